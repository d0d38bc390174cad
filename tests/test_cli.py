"""The `huying` command as outside tools use it: classify, check-config, invite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import example_config
from routing.taxonomy import DEFAULT_CATEGORIES, Urgency

HUYING = [sys.executable, "-m", "bot.cli"]


def _run(args: list[str], stdin: str = "", env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(HUYING + args, input=stdin, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, cwd=cwd)


def test_classify_writes_one_json_object_per_input_line() -> None:
    lines = ["楼道里一股臭鸡蛋味，好像煤气漏了", "小区路灯坏了好几天", "请问怎么办理居住证"]
    result = _run(["classify"], "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    ids = {c.id for c in DEFAULT_CATEGORIES}
    assert all(r["category"] in ids and r["urgency"] in set(Urgency) for r in rows)
    assert rows[0]["urgency"] == "urgent" and rows[0]["category"] == "utilities"
    assert rows[2]["category"] == "policy_inquiry" and rows[2]["urgency"] == "low"


def test_check_config_accepts_the_example_and_names_who_needs_an_invite() -> None:
    result = _run(["check-config", str(example_config())])
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_names_the_file_the_place_and_the_fix(tmp_path: Path) -> None:
    broken = example_config().read_text(encoding="utf-8").replace(
        "areas: [songyun]", "areas: [songyun-9]")
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    result = _run(["check-config", str(path)])
    assert result.returncode != 0
    assert "broken.yaml" in result.stderr
    assert "departments[0].areas[0]" in result.stderr and "songyun-9" in result.stderr


def test_run_refuses_to_start_with_a_broken_file(tmp_path: Path) -> None:
    broken = example_config().read_text(encoding="utf-8").replace(
        "resolve: 4h", "resolve: 4 hours")
    path = tmp_path / "org.yaml"
    path.write_text(broken, encoding="utf-8")
    result = _run(["run"], env={"HUYING_CONFIG": str(path), "HUYING_TELEGRAM_TOKEN": "1:x",
                                "HUYING_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "org.yaml" in result.stderr and "sla.urgent.resolve" in result.stderr


def test_invite_prints_a_deep_link_for_a_known_person(tmp_path: Path) -> None:
    env = {"HUYING_DATA_DIR": str(tmp_path), "HUYING_BOT_USERNAME": "taibaihu_bot"}
    result = _run(["invite", "songyun-1/陈亮"], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("https://t.me/taibaihu_bot?start=inv-")
    unknown = _run(["invite", "songyun-1/nobody"], env=env)
    assert unknown.returncode == 1 and "songyun-1/陈亮" in unknown.stderr


def test_classify_eval_prints_the_scores_of_a_labelled_file(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"text": "楼道里一股臭鸡蛋味，好像煤气漏了", "category": "utilities", "urgency": "urgent"},
        {"text": "请问怎么办理居住证", "category": "policy_inquiry", "urgency": "low"},
        {"text": "1号楼电梯坏了两天了", "category": "property_repair", "urgency": "normal"},
    ]) + "\n", encoding="utf-8")
    result = _run(["classify", "--eval", str(labelled)])
    assert result.returncode == 0, result.stderr
    assert "macro-F1" in result.stdout and "urgent" in result.stdout
    assert "confusion" in result.stdout




@pytest.mark.parametrize(("option", "rows", "said", "key"), [
    ("--train-urgency", [("阳台护栏外面有个孩子", "other", "urgent"),
                         ("楼道里一股煤气味", "other", "urgent"),
                         ("楼道灯不亮了", "other", "normal"),
                         ("请问居住证怎么办", "other", "low")],
     "trained on 4 messages (2 urgent)", "urgency_model_file"),
    ("--train-category", [("广场舞音响太吵", "noise", "normal"),
                          ("楼上装修电钻吵", "noise", "normal"),
                          ("截肢了出不了门", "hardship", "normal"),
                          ("低保没批下来", "hardship", "normal")],
     "trained on 4 messages (2 categories)", "category_model_file"),
])
def test_training_writes_a_model_that_check_config_accepts(
        tmp_path: Path, option: str, rows: list[tuple[str, str, str]], said: str,
        key: str) -> None:
    labelled = tmp_path / "mine.jsonl"
    labelled.write_text("".join(json.dumps({"text": t, "category": c, "urgency": u},
                                           ensure_ascii=False) + "\n" for t, c, u in rows),
                        encoding="utf-8")
    result = _run(["classify", option, str(labelled), "--output", str(tmp_path / "model.json")])
    assert result.returncode == 0, result.stderr
    assert said in result.stdout
    org = tmp_path / "org.yaml"
    org.write_text(example_config().read_text(encoding="utf-8") + f"\n{key}: model.json\n",
                   encoding="utf-8")
    assert _run(["check-config", str(org)]).returncode == 0
    (tmp_path / "model.json").write_text("{}", encoding="utf-8")
    refused = _run(["check-config", str(org)])
    assert refused.returncode == 1 and "model.json" in refused.stderr
