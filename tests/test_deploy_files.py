"""The files in deploy/ agree with the program: setting names, the start command, the paths."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.settings import Settings, example_config
from routing.orgconfig import load_org_config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ROOT = DEPLOY.parent
PREFIX = str(Settings.model_config.get("env_prefix", "")).upper()
SETTING_NAMES = {PREFIX + name.upper() for name in Settings.model_fields}
# `NAME=value` or a commented-out `# NAME=value` line of an env file.
ENV_LINE = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=")


def test_settings_names_are_prefixed() -> None:
    assert PREFIX == "HUYING_"
    assert "HUYING_TELEGRAM_TOKEN" in SETTING_NAMES


# --- compose.yaml --------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), "compose.yaml must be a mapping"
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _env_files(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file") or []
    if isinstance(files, (str, dict)):
        files = [files]
    return [f["path"] if isinstance(f, dict) else f for f in files]


def test_compose_parses_and_has_both_services() -> None:
    services = _compose()["services"]
    assert {"db", "bot"} <= set(services)
    db, bot = services["db"], services["bot"]
    assert str(db["image"]).startswith("postgres:16")
    assert "pg_isready" in json.dumps(db["healthcheck"]["test"])
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["restart"] == "unless-stopped"
    assert bot["build"]["context"] == ".."
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() \
        == (DEPLOY / "Dockerfile").resolve()


def test_compose_bot_environment_names_only_real_settings() -> None:
    bot = _compose()["services"]["bot"]
    env = _environment(bot)
    unknown = set(env) - SETTING_NAMES
    assert not unknown, f"compose bot environment names no Settings field: {sorted(unknown)}"
    # Compose fills in ${VAR}, ${VAR:?message}, ${VAR:-default} from .env; any value will do.
    url = make_url(re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*[^}]*\}", "secret",
                          env["HUYING_DATABASE_URL"]))
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.port, url.database, url.username) == ("db", 5432, "huying", "huying")
    assert url.password == "secret"  # the password comes from compose's .env, not the file
    assert env["HUYING_DATA_DIR"] == "/data"


def test_compose_env_file_is_the_example_with_real_settings_only() -> None:
    bot = _compose()["services"]["bot"]
    assert _env_files(bot) == ["huying.env"]
    names = _env_names(DEPLOY / "huying.env.example")
    unknown = names - SETTING_NAMES
    assert not unknown, f"huying.env.example names no Settings field: {sorted(unknown)}"


def test_compose_mounts_the_organisation_file_read_only_where_config_points() -> None:
    bot = _compose()["services"]["bot"]
    config = _environment(bot)["HUYING_CONFIG"]
    mounts = [str(v).split(":") for v in bot["volumes"]]
    assert [m[1:] for m in mounts if len(m) == 3 and m[1] == config] == [[config, "ro"]]


# --- huying.env.example --------------------------------------------------------------------


def _env_names(path: Path) -> set[str]:
    return {m.group(1) for line in path.read_text(encoding="utf-8").splitlines()
            if (m := ENV_LINE.match(line))}


def test_env_example_lists_every_setting() -> None:
    missing = SETTING_NAMES - _env_names(DEPLOY / "huying.env.example")
    assert not missing, f"huying.env.example does not mention {sorted(missing)}"


def test_env_example_values_are_accepted_by_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncomment every example value: Settings must accept them all."""
    for name in list(SETTING_NAMES):
        monkeypatch.delenv(name, raising=False)
    for line in (DEPLOY / "huying.env.example").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*#?\s*(HUYING_[A-Z0-9_]+)=(\S+)\s*$", line)
        if m:
            monkeypatch.setenv(m.group(1), m.group(2))
    monkeypatch.chdir(DEPLOY)  # no stray .env file from the working directory
    settings = Settings()
    assert settings.sender_batch > 0
    assert settings.telegram_api_url.startswith("https://")


# --- huying.service ------------------------------------------------------------------------


def _unit() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for raw in (DEPLOY / "huying.service").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_unit_runs_huying_run_from_the_venv() -> None:
    unit = _unit()
    (exec_start,) = unit["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == "/opt/huying/.venv/bin/huying"
    assert argv[1:] == ["run"]
    assert unit["User"] == ["huying"]
    assert unit["EnvironmentFile"] == ["/etc/huying/huying.env"]
    assert unit["Restart"] == ["on-failure"]
    for key in ("NoNewPrivileges", "PrivateTmp"):
        assert unit[key] == ["true"]
    assert unit["ProtectSystem"] == ["strict"]


def test_systemd_unit_data_dir_is_writable_and_settings_are_real() -> None:
    unit = _unit()
    env = dict(item.split("=", 1) for item in unit.get("Environment", []))
    assert set(env) <= SETTING_NAMES
    writable = " ".join(unit["ReadWritePaths"]).split()
    assert env["HUYING_DATA_DIR"] in [p.lstrip("-") for p in writable]


# --- Dockerfile ----------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_cmd_runs_huying_run() -> None:
    steps = _dockerfile()
    cmds = [rest for word, rest in steps if word == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    last = cmds[-1]
    argv = json.loads(last) if last.startswith("[") else shlex.split(last)
    assert argv == ["huying", "run"]
    assert not [rest for word, rest in steps if word == "ENTRYPOINT"]


def test_dockerfile_base_user_and_data_dir() -> None:
    steps = _dockerfile()
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "HUYING_DATA_DIR=/data" in env
    assert any("/data" in rest for word, rest in steps if word == "VOLUME")
    for name in re.findall(r"\b(HUYING_[A-Z0-9_]+)=", env):
        assert name in SETTING_NAMES
    # jieba's cache must be built by the runtime user, i.e. after USER.
    words = [word for word, _ in steps]
    warm = next(i for i, (w, rest) in enumerate(steps) if w == "RUN" and "jieba" in rest)
    assert words.index("USER") < warm


def test_dockerfile_copies_what_the_package_needs() -> None:
    copied = " ".join(rest for word, rest in _dockerfile() if word == "COPY")
    for needed in ("pyproject.toml", "README.md", "bot", "handlers", "routing", "storage"):
        assert re.search(rf"(^|\s){re.escape(needed)}(\s|$)", copied), needed
        assert (ROOT / needed).exists()


# --- README --------------------------------------------------------------------------------


def test_readme_is_short_and_its_invite_example_is_a_real_person() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 80
    keys = {p.key for p in load_org_config(example_config()).all_people()}
    for key in set(re.findall(r"huying(?:-admin)? invite (\S+?)`", text)):
        assert key in keys, key
