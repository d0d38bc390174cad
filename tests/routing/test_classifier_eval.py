"""The classifier measured on the labelled sets of tests/data, and the evaluation module itself.

What the classifier learnt from (the keywords were tuned on it, both models trained on it):
tests/data/requests_tune.jsonl, the four requests_dev*.jsonl sets, twelve sets that were held
out first and read only after their scores were reported (requests_holdout.jsonl to
requests_holdout12.jsonl; in holdout7 seven requests for a certificate or a reply, labelled
policy_inquiry/normal by its writer, were relabelled low as taxonomy.md has it before it
joined), and nineteen sets written for training by writers who saw neither the classifier nor
any other set (requests_train_a to _s.jsonl: older residents and dialect, younger residents
and slang, the boundaries between categories, urgent messages beside alarming ones that are
not, a month of everyday messages, the same dangers on both sides of the urgency line, the
category boundaries a keyword misreads, winter in old compounds, new high-rise estates,
villages turned into communities, a market street, summer storms, many kinds of writer with
120 messages in English, and six sets of the same dangers on both sides of the urgency line:
public hazards, the elderly and the sick, fire and gas, violence and scams, water and
weather, children and vulnerable people outside).

What it is measured on: tests/data/requests_holdout13.jsonl, 479 messages written by
someone who had not seen the classifier, its keywords or any other set, and never read: only
its summary figures were looked at, once, for the version shipped. A held-out set stays unread; once its mistakes are read it joins the training sets
and the next round of tuning needs a new one.
The floors below sit a little under what was measured, so that a regression fails CI; they
never sit above it.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from routing.classifier import Classifier, KeywordSet
from routing.evaluation import (
    Prediction,
    Report,
    Row,
    evaluate,
    load_rows,
    parse_rows,
    run_eval,
    score,
)
from routing.learnt import CategoryModel, UrgencyModel
from routing.taxonomy import DEFAULT_CATEGORIES, Taxonomy, Urgency

DATA = Path(__file__).resolve().parent.parent / "data"
TUNE = DATA / "requests_tune.jsonl"
FIRST_HOLDOUT = DATA / "requests_holdout.jsonl"
DEV_SETS = sorted(DATA.glob("requests_dev*.jsonl"))
READ_HOLDOUTS = [DATA / f"requests_holdout{n}.jsonl" for n in range(2, 13)]
TRAIN_SETS = sorted(DATA.glob("requests_train_*.jsonl"))
TRAINING = [TUNE, FIRST_HOLDOUT, *DEV_SETS, *READ_HOLDOUTS, *TRAIN_SETS]
CATEGORY_IDS = {c.id for c in DEFAULT_CATEGORIES}

# The held-out part, never read: holdout13 (479 messages, 56 urgent; the Spring Festival in
# an old canal town: courtyard houses, vendors' rented rooms, a temple fair, coal stoves,
# firecrackers, frozen pipes). Measured once for the version shipped (round 12: the tf-idf
# urgency model trained on holdout11 and 12 too, and the cues read in their mistakes):
# macro-F1 0.915, accuracy 0.914, urgent recall 0.893 (50/56), urgent precision 0.769 (50/65).
# Keywords alone: 0.761, recall 0.625, precision 0.700. Earlier classifiers on the same set:
# round 10's 0.915, recall 0.911, precision 0.810; round 11's 0.910, 0.893, 0.794.
# Macro-F1 meets the issue's target (0.90); urgent recall (0.98) and precision (0.80) do not.
# The floors keep what there is.
# Rounds 10 and 11 were measured on holdout11 and holdout12, now in TRAINING: round 9's
# classifier on holdout11 gave 0.934, recall 0.931 (54/58), precision 0.740; round 11's gave
# 0.934, 0.931, 0.783, and on holdout12 0.952, 0.964 (54/56), 0.794.
@dataclass(frozen=True)
class Floors:
    macro_f1: float
    accuracy: float
    urgent_recall: float
    urgent_precision: float


HOLDOUT_FLOORS = {
    DATA / "requests_holdout13.jsonl": Floors(0.90, 0.90, 0.87, 0.75),
}
HOLDOUTS = list(HOLDOUT_FLOORS)
# Measured on the tune part: macro-F1 0.998, urgent recall 1.0, urgent precision 0.95.
TUNE_MACRO_F1 = 0.97
TUNE_URGENT_RECALL = 0.97
TUNE_URGENT_PRECISION = 0.90


@cache
def _classifier() -> Classifier:
    return Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=UrgencyModel.default(),
                      category_model=CategoryModel.default())


@cache
def _report(path: Path) -> Report:
    return evaluate(_classifier(), load_rows(path))


# ----- the classifier on the labelled sets ---------------------------------------------------


@pytest.mark.parametrize("path", HOLDOUTS, ids=lambda p: p.name)
def test_held_out_category_scores_stay_above_their_floors(path: Path) -> None:
    report, floors = _report(path), HOLDOUT_FLOORS[path]
    assert report.macro_f1 >= floors.macro_f1, report.render()
    assert report.accuracy >= floors.accuracy, report.render()


@pytest.mark.parametrize("path", HOLDOUTS, ids=lambda p: p.name)
def test_held_out_urgent_recall_and_precision_stay_above_their_floors(path: Path) -> None:
    report, floors = _report(path), HOLDOUT_FLOORS[path]
    assert report.urgent_recall is not None and report.urgent_precision is not None
    assert report.urgent_recall >= floors.urgent_recall, report.render()
    assert report.urgent_precision >= floors.urgent_precision, report.render()


def test_tune_scores_stay_above_their_floors() -> None:
    report = _report(TUNE)
    assert report.macro_f1 >= TUNE_MACRO_F1, report.render()
    assert report.urgent_recall is not None and report.urgent_precision is not None
    assert report.urgent_recall >= TUNE_URGENT_RECALL, report.render()
    assert report.urgent_precision >= TUNE_URGENT_PRECISION, report.render()


@pytest.mark.parametrize("path", HOLDOUTS, ids=lambda p: p.name)
def test_a_verdict_marked_for_review_is_less_often_right_than_the_rest(path: Path) -> None:
    report = _report(path)
    # 17-28% of the held-out sets are flagged: most where the keywords cover the wording
    # least (holdout9's industrial park, port and spring festivals).
    assert 0 < report.review_count < report.total * 0.3
    flagged_accuracy = report.review_correct / report.review_count
    assert report.confident_accuracy is not None
    assert report.confident_accuracy > flagged_accuracy
    assert report.confident_accuracy >= 0.9


# ----- the labelled data ---------------------------------------------------------------------


def _all_rows() -> list[Row]:
    return load_rows(TUNE) + load_rows(FIRST_HOLDOUT)


def test_the_labelled_set_has_the_shape_the_issue_asks_for() -> None:
    for rows in (_all_rows(), *(load_rows(p) for p in HOLDOUTS)):
        assert len(rows) >= 400
        per_category = Counter(r.category for r in rows)
        assert set(per_category) == CATEGORY_IDS
        assert min(per_category.values()) >= 29, per_category
        urgent = sum(r.urgency == Urgency.URGENT for r in rows) / len(rows)
        assert 0.10 <= urgent <= 0.17, urgent
        assert sum(r.hard for r in rows) / len(rows) >= 0.24
    assert min(Counter(r.category for r in _all_rows()).values()) >= 40


@pytest.mark.parametrize("path", HOLDOUTS, ids=lambda p: p.name)
def test_the_held_out_set_has_enough_urgent_rows_to_measure_recall(path: Path) -> None:
    assert sum(r.urgency == Urgency.URGENT for r in load_rows(path)) >= 50


def test_the_shipped_models_learnt_from_the_training_sets_only() -> None:
    # Retrain with `huying classify --train-urgency` and `--train-category` on TRAINING
    # (README); never on HOLDOUTS.
    training = sum(len(load_rows(p)) for p in TRAINING)
    assert UrgencyModel.default().trained_on == training
    assert CategoryModel.default().trained_on == training
    assert set(CategoryModel.default().categories) == CATEGORY_IDS


@pytest.mark.parametrize("path", [*TRAINING, *HOLDOUTS], ids=lambda p: p.name)
def test_every_row_uses_the_taxonomy_ids(path: Path) -> None:
    rows = load_rows(path)
    assert rows
    assert {r.category for r in rows} <= CATEGORY_IDS
    assert {r.urgency for r in rows} <= {u.value for u in Urgency}
    # Questions never need anyone to hurry (checked where we own the labels: a held-out set
    # is scored as its writer labelled it).
    if path not in HOLDOUT_FLOORS:
        assert all(r.urgency == "low" for r in rows if r.category == "policy_inquiry")


def test_no_message_is_in_two_sets() -> None:
    seen: Counter[str] = Counter()
    for path in [*TRAINING, *HOLDOUTS]:
        seen.update({r.text for r in load_rows(path)})
    assert [t for t, n in seen.items() if n > 1] == []


def test_the_shipped_keywords_carry_no_examples_the_model_already_learnt() -> None:
    # Examples are for a deployment's own words; the shipped ones would count twice.
    assert KeywordSet.defaults().examples == {}


# ----- routing/evaluation.py -----------------------------------------------------------------

ROWS = [
    Row("a", "noise", "normal"),
    Row("b", "noise", "urgent", hard=True),
    Row("c", "sanitation", "normal"),
    Row("d", "sanitation", "low"),
    Row("e", "other", "urgent"),
]
PREDICTIONS = [
    Prediction("noise", "normal"),
    Prediction("sanitation", "normal", 0.1, needs_review=True),
    Prediction("sanitation", "normal"),
    Prediction("sanitation", "low"),
    Prediction("other", "urgent"),
]


def test_score_counts_accuracy_confusion_and_per_category_scores() -> None:
    report = score(ROWS, PREDICTIONS)
    assert (report.total, report.category_correct) == (5, 4)
    assert report.accuracy == pytest.approx(0.8)
    noise, sanitation, other = (
        next(c for c in report.per_category if c.id == cid)
        for cid in ("noise", "sanitation", "other")
    )
    assert (noise.support, noise.predicted, noise.correct) == (2, 1, 1)
    assert (noise.precision, noise.recall) == (1.0, 0.5)
    assert noise.f1 == pytest.approx(2 / 3)
    assert sanitation.precision == pytest.approx(2 / 3)
    assert sanitation.recall == 1.0
    assert (other.precision, other.recall, other.f1) == (1.0, 1.0, 1.0)
    # Macro-F1 over the categories labelled or predicted at least once.
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)
    i, j = report.labels.index("noise"), report.labels.index("sanitation")
    assert report.confusion[i][j] == 1 and report.confusion[i][i] == 1
    assert sum(map(sum, report.confusion)) == 5


def test_score_measures_urgent_recall_and_precision() -> None:
    report = score(ROWS, PREDICTIONS)
    assert (report.urgent_support, report.urgent_flagged, report.urgent_caught) == (2, 1, 1)
    assert report.urgent_recall == 0.5
    assert report.urgent_precision == 1.0
    assert report.urgency_accuracy == pytest.approx(0.8)


def test_an_undefined_ratio_is_none_not_zero() -> None:
    report = score([Row("a", "noise", "normal")], [Prediction("noise", "normal")])
    assert report.urgent_recall is None and report.urgent_precision is None
    assert report.hard_accuracy is None
    sanitation = next(c for c in report.per_category if c.id == "sanitation")
    assert (sanitation.precision, sanitation.recall, sanitation.f1) == (None, None, 0.0)
    assert report.macro_f1 == 1.0


def test_mistakes_list_missed_urgent_first_then_wrong_categories() -> None:
    rows = [*ROWS, Row("f", "noise", "normal")]
    predictions = [*PREDICTIONS, Prediction("noise", "urgent")]
    mistakes = score(rows, predictions).mistakes
    assert [m.row.text for m in mistakes] == ["b", "f"]
    assert mistakes[0].missed_urgent and mistakes[0].wrong_category
    assert not mistakes[1].missed_urgent and not mistakes[1].wrong_category


def test_score_counts_hard_rows_and_review_flags() -> None:
    report = score(ROWS, PREDICTIONS)
    assert (report.hard_total, report.hard_correct) == (1, 0)
    assert (report.review_count, report.review_correct) == (1, 0)
    assert report.confident_accuracy == 1.0


def test_unknown_category_ids_get_their_own_row_and_column() -> None:
    report = score([Row("a", "parks", "normal")], [Prediction("noise", "normal")])
    assert "parks" in report.labels
    assert report.names["parks"] == "?"
    assert report.accuracy == 0


def test_score_refuses_lists_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="2 rows but 1 predictions"):
        score(ROWS[:2], PREDICTIONS[:1])


def test_render_shows_ids_with_chinese_names_and_the_figures() -> None:
    text = score(ROWS, PREDICTIONS).render()
    assert "noise 噪音扰民" in text and "sanitation 环境卫生" in text
    assert "accuracy 80.0%" in text
    assert "macro-F1 0.822" in text
    assert "recall 50.0% (1/2)" in text and "precision 100.0% (1/1)" in text
    assert "待确认" in text
    assert "confusion" in text
    assert "want noise/urgent (噪音扰民)" in text
    assert "mistakes" not in score(ROWS, PREDICTIONS).render(max_mistakes=0)


@dataclass(frozen=True)
class _Verdict:
    category: str
    urgency: Urgency
    confidence: float = 1.0


class _Fixed:
    """A stand-in classifier: every text is noise, urgent when it says so."""

    def classify(self, text: str) -> _Verdict:
        return _Verdict("noise", Urgency.URGENT if "急" in text else Urgency.NORMAL)


def test_evaluate_runs_any_classifier_over_the_rows() -> None:
    rows = [
        Row("急", "noise", "urgent"),
        Row("吵", "noise", "normal"),
        Row("臭", "sanitation", "normal"),
    ]
    report = evaluate(_Fixed(), rows)
    assert report.accuracy == pytest.approx(2 / 3)
    assert (report.urgent_recall, report.urgent_precision) == (1.0, 1.0)
    assert report.review_count == 0


def test_parse_rows_reads_json_lines_and_skips_blank_ones() -> None:
    lines = [
        json.dumps({"text": "楼道灯坏了", "category": "property_repair", "urgency": "normal"}),
        "",
        json.dumps(
            {"text": "着火了", "category": "public_safety", "urgency": "urgent", "hard": True},
            ensure_ascii=False,
        ),
    ]
    assert parse_rows(lines) == [
        Row("楼道灯坏了", "property_repair", "normal", False),
        Row("着火了", "public_safety", "urgent", True),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "f.jsonl:1: not JSON"),
        ("[1, 2]", "f.jsonl:1: expected an object"),
        ('{"text": "x", "urgency": "low"}', "f.jsonl:1: needs a string 'text'"),
        ('{"text": "x", "category": "noise", "urgency": "asap"}', "f.jsonl:1: urgency must"),
        ('{"text": "x", "category": "noise", "urgency": "low", "hard": 1}', "f.jsonl:1: 'hard'"),
    ],
)
def test_parse_rows_names_the_line_of_a_bad_row(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        parse_rows([line], "f.jsonl")


def test_run_eval_prints_the_report_or_says_what_is_wrong(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"text": "吵", "category": "noise", "urgency": "normal"}) + "\n",
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_eval(_Fixed(), good, out, err) == 0
    assert "accuracy 100.0%" in out.getvalue() and err.getvalue() == ""

    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run_eval(_Fixed(), bad, out, err) == 1
    assert f"{bad}:1: not JSON" in err.getvalue() and out.getvalue() == ""

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert run_eval(_Fixed(), empty, io.StringIO(), err := io.StringIO()) == 1
    assert "no labelled rows" in err.getvalue()
    assert run_eval(_Fixed(), tmp_path / "missing.jsonl", io.StringIO(), io.StringIO()) == 1


def test_homophone_typos_are_matched_by_pinyin() -> None:
    # Needs the pypinyin package (a dependency in pyproject.toml).
    pytest.importorskip("pypinyin", reason="pypinyin is a dependency: pip install -e .")
    classifier = _classifier()
    assert classifier.classify("电题坏了三天了没人修").category == "property_repair"
    assert classifier.classify("冲电桩坏了一半").category == "parking_traffic"
    assert "电梯" in classifier.classify("电题卡住了 俺在里面").matched
    # A common word that only sounds like a keyword is no typo (午夜 is not 物业).
    assert "物业" not in classifier.classify("午夜还在施工").matched


def test_keywords_typed_in_pinyin_are_read_as_characters() -> None:
    pytest.importorskip("pypinyin", reason="pypinyin is a dependency: pip install -e .")
    classifier = _classifier()
    lift = classifier.classify("dian ti you huai le, 2 hao lou, wo men zhu 18 lou")
    assert (lift.category, lift.matched) == ("property_repair", ("电梯又坏",))
    assert classifier.classify("wo jia ting dian le").category == "utilities"
    gas = classifier.classify("wo jia you mei qi wei")
    assert (gas.category, gas.urgency) == ("utilities", Urgency.URGENT)
    # Two syllables that sound like a danger word are mostly something else (你要啥).
    assert classifier.classify("ni yao sha").urgency is not Urgency.URGENT
    # English is left as it is, even where its words are pinyin syllables.
    english = "he is on the way, can you help me find a man"
    assert classifier.classify(english).matched == ()


def test_the_shipped_keywords_file_is_valid_yaml_with_every_category() -> None:
    data = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "routing/data/keywords.yaml").read_text("utf-8")
    )
    assert set(data["categories"]) == CATEGORY_IDS
    assert data["examples"] == {}
