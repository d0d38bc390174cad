"""The urgency and category models: training, their stored form, how the classifier uses them."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from routing.classifier import Classifier, KeywordSet, normalize
from routing.keywords import build_classifier
from routing.learnt import CategoryModel, UrgencyModel, features, train, train_categories
from routing.orgconfig import load_org_config
from routing.taxonomy import DEFAULT_CATEGORIES, Taxonomy, Urgency

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


def test_a_weighted_feature_without_its_idf_is_refused() -> None:
    stored = json.loads(_model().to_json())
    del stored["idf"][next(iter(stored["weights"]))]
    with pytest.raises(ValueError, match="idf"):
        UrgencyModel.from_json(json.dumps(stored))


def test_a_model_of_the_first_format_still_reads_as_a_plain_sum() -> None:
    stored = json.dumps({"format": "huying-urgency-model/1", "bias": -1.0, "threshold": 0.4,
                         "ngram": 2, "weights": {"火": 2.0, "着火": 3.0}})
    model = UrgencyModel.from_json(stored)
    assert model.idf is None and model.overrule_below == 0.001
    assert model.probability("着火了") == pytest.approx(1 / (1 + math.exp(-4.0)))
    assert json.loads(model.to_json())["format"] == "huying-urgency-model/1"


def test_a_message_is_scaled_to_length_one_before_the_weights_apply() -> None:
    # 楼道着火 has the features 楼 道 着 火 and their pairs; the model knows 火 and three
    # others, all of idf 1: length 2, so 火's weight of 4 counts 2.
    model = UrgencyModel(weights={"火": 4.0}, bias=0.0,
                         idf={"火": 1.0, "楼": 1.0, "道": 1.0, "楼道": 1.0})
    assert model.probability("火") == pytest.approx(1 / (1 + math.exp(-4.0)))
    assert model.probability("楼道火") == pytest.approx(1 / (1 + math.exp(-2.0)))
    # Features it does not know change nothing; a text with none gets the bias alone.
    assert model.probability("火车站") == model.probability("火")
    assert model.probability("电梯") == 0.5


def test_rare_features_weigh_more_and_one_seen_once_is_left_out() -> None:
    model = _model()
    assert model.idf is not None
    # 阳台 is in four of the examples, 护栏 in three, 爬 in one.
    assert model.idf["阳台"] < model.idf["护栏"]
    assert "爬" not in model.idf and "爬" not in model.weights


def test_training_without_scikit_learn_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    with pytest.raises(RuntimeError, match=r"huying\[train\]"):
        _model()


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


def _sure(probability: float) -> UrgencyModel:
    """A model that gives every text the same probability of being urgent."""
    return UrgencyModel(weights={}, bias=math.log(probability / (1 - probability)))


def test_a_model_all_but_sure_overrules_one_weak_cue() -> None:
    text = "救护车天天从这条路过 能不能别拉警报 太吵了"  # 救护车, and nothing else
    assert Classifier(Taxonomy(), KeywordSet.defaults()).classify(text).urgency is Urgency.URGENT
    doubting = Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=_sure(1e-4))
    assert doubting.classify(text).urgency is Urgency.NORMAL
    # Only when it is all but sure: at one in a hundred the cue stands.
    unsure = Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=_sure(0.01))
    assert unsure.classify(text).urgency is Urgency.URGENT


def test_the_overrule_level_is_the_models_own_unless_given() -> None:
    text = "救护车天天从这条路过 能不能别拉警报 太吵了"
    calibrated = UrgencyModel(weights={}, bias=math.log(0.01 / 0.99), overrule_below=0.05)
    assert Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=calibrated).classify(
        text).urgency is Urgency.NORMAL
    assert Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=calibrated,
                      overrule_below=0.001).classify(text).urgency is Urgency.URGENT


def test_the_shipped_model_is_scaled_and_carries_its_overrule_level() -> None:
    shipped = UrgencyModel.default()
    assert shipped.idf is not None and set(shipped.weights) <= set(shipped.idf)
    assert shipped.overrule_below == 0.05 and shipped.threshold == 0.45


@pytest.mark.parametrize("text", ["楼道里一股煤气味", "厨房着火了 快来人", "俺娘摔倒了起不来",
                                  "对门老太太家叫门不应 两天没见人了"])
def test_firm_danger_cues_are_never_overruled(text: str) -> None:
    doubting = Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=_sure(1e-6))
    assert doubting.classify(text).urgency is Urgency.URGENT


def test_an_overruled_question_is_low_as_a_question_is() -> None:
    text = "请问小区有没有急救培训 想学学"  # 急救 is a danger cue
    assert Classifier(Taxonomy(), KeywordSet.defaults()).classify(text).urgency is Urgency.URGENT
    doubting = Classifier(Taxonomy(), KeywordSet.defaults(), urgency_model=_sure(1e-6))
    assert doubting.classify(text).urgency is Urgency.LOW


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


def test_features_run_to_the_longest_n_gram_asked_for() -> None:
    assert features("电梯坏", 3) == {"电", "梯", "坏", "电梯", "梯坏", "电梯坏"}
    assert features("电梯坏", 1) == {"电", "梯", "坏"}


def test_a_model_file_from_before_n_grams_reads_as_pairs() -> None:
    stored = json.loads(_model().to_json())
    del stored["ngram"]
    assert UrgencyModel.from_json(json.dumps(stored)).ngram == 2


# ----- the category model ----------------------------------------------------------------

CATEGORY_EXAMPLES = [
    ("俺这个腿截肢了 出门得有人推", "hardship"),
    ("截肢以后一个人过日子 没人照应", "hardship"),
    ("老伴瘫痪在床 低保也没批下来", "hardship"),
    ("广场舞音响太吵 晚上十点还在跳", "noise"),
    ("楼上装修电钻吵得睡不着", "noise"),
    ("半夜烧烤店吵吵嚷嚷", "noise"),
]


def _category_model() -> CategoryModel:
    return train_categories((normalize(t), c) for t, c in CATEGORY_EXAMPLES)


def test_a_trained_category_model_ranks_what_it_learnt_first() -> None:
    model = _category_model()
    scores = model.scores(normalize("截肢了出不了门"))
    assert max(scores, key=lambda c: scores[c]) == "hardship"
    assert scores["hardship"] == 0 and scores["noise"] < 0
    assert model.scores("") == {}
    assert model.trained_on == len(CATEGORY_EXAMPLES)
    assert set(model.categories) == {"hardship", "noise"}


def test_category_training_is_repeatable_and_needs_two_categories() -> None:
    assert _category_model().to_json() == _category_model().to_json()
    with pytest.raises(ValueError, match="two categories"):
        train_categories([("吵", "noise")])


def test_the_stored_category_model_round_trips() -> None:
    model = _category_model()
    again = CategoryModel.from_json(model.to_json())
    text = normalize("楼上电钻太吵")
    for cid, gap in model.scores(text).items():
        assert again.scores(text)[cid] == pytest.approx(gap, abs=0.1)


@pytest.mark.parametrize("text", [
    json.dumps({"format": "huying-urgency-model/1", "bias": {}, "weights": {}}),
    json.dumps({"format": "huying-category-model/1", "bias": [], "weights": {}}),
    json.dumps({"format": "huying-category-model/1", "bias": {"noise": 0},
                "weights": {"吵": {"sanitation": 1.0}}}),
    json.dumps({"format": "huying-category-model/1", "bias": {"noise": 0}, "weights": {},
                "ngram": 9}),
])
def test_a_broken_category_model_file_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="category model"):
        CategoryModel.from_json(text, "category model")


def test_the_category_model_guesses_where_no_keyword_speaks() -> None:
    text = "俺这个腿截肢了 儿子上班顾不上"
    plain = Classifier(Taxonomy(), KeywordSet.defaults())
    helped = Classifier(Taxonomy(), KeywordSet.defaults(), category_model=_category_model())
    assert plain.classify(text).category == "other"
    verdict = helped.classify(text)
    assert verdict.category == "hardship"
    assert verdict.needs_review  # no keyword backs it: the worker confirms


def test_a_category_the_taxonomy_dropped_is_never_chosen_by_the_model() -> None:
    taxonomy = Taxonomy(tuple(c for c in DEFAULT_CATEGORIES if c.id != "hardship"))
    verdict = Classifier(taxonomy, KeywordSet.defaults(),
                         category_model=_category_model()).classify("腿截肢了 出不了门")
    assert verdict.category in taxonomy


def test_a_deployment_can_name_its_own_category_model_or_turn_it_off(tmp_path: Path) -> None:
    (tmp_path / "cats.json").write_text(_category_model().to_json(), encoding="utf-8")
    config = load_org_config(_org_file(tmp_path, "\ncategory_model_file: cats.json\n"))
    assert build_classifier(config)._category_model == _category_model_from(tmp_path)
    off = load_org_config(_org_file(tmp_path, "\ncategory_model_file: none\n"))
    assert build_classifier(off)._category_model is None
    shipped = load_org_config(_org_file(tmp_path, ""))
    assert build_classifier(shipped)._category_model is CategoryModel.default()


def _category_model_from(folder: Path) -> CategoryModel:
    return CategoryModel.load(folder / "cats.json")


def test_latin_letters_count_as_words_and_end_the_runs_around_them() -> None:
    assert features("电梯stuck了", 2) == {"电", "梯", "了", "电梯", "stuck"}
    assert features("gas smell") == {"gas", "smell"}
