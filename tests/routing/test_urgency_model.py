"""The urgency model: training, its stored form, and how the classifier uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing.classifier import Classifier, KeywordSet, normalize
from routing.keywords import build_classifier
from routing.orgconfig import load_org_config
from routing.taxonomy import Taxonomy, Urgency
from routing.urgency_model import UrgencyModel, features, train

EXAMPLES = [
    ("孩子爬到阳台护栏外面了", True),
    ("小孩挂在阳台护栏外面 家里没大人", True),
    ("阳台护栏外面站着个孩子", True),
    ("楼道灯不亮了", False),
    ("小区垃圾没人清", False),
    ("楼上装修太吵", False),
    ("阳台晾衣架坏了", False),
    ("孩子上学的事想问问", False),
]


def _model() -> UrgencyModel:
    return train((normalize(text), urgent) for text, urgent in EXAMPLES)


def test_features_are_characters_and_pairs_without_spaces() -> None:
    assert features("电梯 坏") == {"电", "梯", "坏", "电梯", "梯坏"}


def test_addresses_and_numbers_are_no_features() -> None:
    assert features("3号楼2单元501 电梯坏") == features("电梯坏")
    assert features("十二层漏水") == features("漏水")


def test_a_trained_model_separates_what_it_learnt() -> None:
    model = _model()
    assert model.urgent(normalize("护栏外面有个孩子"))[0]
    assert not model.urgent(normalize("楼道灯坏了"))[0]
    assert model.trained_on == len(EXAMPLES)


def test_training_is_repeatable() -> None:
    assert _model().to_json() == _model().to_json()


def test_training_needs_both_kinds_of_example() -> None:
    with pytest.raises(ValueError, match="both"):
        train([("着火了", True)])


def test_the_stored_form_round_trips() -> None:
    model = _model()
    again = UrgencyModel.from_json(model.to_json())
    text = normalize("护栏外面有个孩子")
    assert again.probability(text) == pytest.approx(model.probability(text), abs=1e-3)
    assert again.trained_on == model.trained_on


@pytest.mark.parametrize("text", ["not json", json.dumps({"format": "other"}),
                                  json.dumps({"format": "huying-urgency-model/1",
                                              "weights": {"火": "hot"}})])
def test_a_broken_model_file_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="urgency model"):
        UrgencyModel.from_json(text, "urgency model")


def test_the_classifier_calls_urgent_what_only_the_model_sees() -> None:
    text = "护栏外面有个孩子"
    plain = Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=None)
    helped = Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=_model())
    assert plain.classify(text).urgency is not Urgency.URGENT
    verdict = helped.classify(text)
    assert verdict.urgency is Urgency.URGENT
    assert verdict.urgent_by_model is not None and verdict.urgent_by_model >= 0.5
    assert verdict.as_json()["urgent_by_model"] == round(verdict.urgent_by_model, 3)


def test_keyword_urgency_does_not_need_the_model() -> None:
    verdict = Classifier(Taxonomy(), KeywordSet.defaults()).classify("楼道里一股煤气味")
    assert verdict.urgency is Urgency.URGENT
    assert verdict.urgent_by_model is None


def _org_file(tmp_path: Path, extra: str) -> Path:
    source = Path(__file__).resolve().parents[2] / "bot" / "data" / "taibaihu.yaml"
    path = tmp_path / "org.yaml"
    path.write_text(source.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def test_a_deployment_can_train_and_name_its_own_model(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(_model().to_json(), encoding="utf-8")
    config = load_org_config(_org_file(tmp_path, "\nurgency_model_file: mine.json\n"))
    verdict = build_classifier(config).classify("护栏外面有个孩子")
    assert verdict.urgent_by_model is not None


def test_a_deployment_can_turn_the_model_off(tmp_path: Path) -> None:
    config = load_org_config(_org_file(tmp_path, "\nurgency_model_file: none\n"))
    assert build_classifier(config)._urgency_model is None
    shipped = load_org_config(_org_file(tmp_path, ""))
    assert build_classifier(shipped)._urgency_model is UrgencyModel.default()
