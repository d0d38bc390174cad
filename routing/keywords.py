"""The deployment's classifier: the shipped keywords plus what its organisation file adds."""

from __future__ import annotations

import yaml

from routing.classifier import Classifier, KeywordSet
from routing.learnt import CategoryModel, UrgencyModel
from routing.orgconfig import OrgConfig


def build_keywords(config: OrgConfig) -> KeywordSet:
    """The default keywords plus whatever the deployment adds in its file or keywords file."""
    keywords = KeywordSet.defaults()
    extra_path = config.keywords_path()
    if extra_path is not None:
        keywords = keywords.merged(KeywordSet.from_mapping(
            yaml.safe_load(extra_path.read_text(encoding="utf-8")) or {}))
    if config.keywords:
        keywords = keywords.merged(KeywordSet.from_mapping(config.keywords))
    return keywords


def build_classifier(config: OrgConfig) -> Classifier:
    """The classifier with the deployment's keywords and models."""
    return Classifier(config.taxonomy(), build_keywords(config),
                      urgency_model=build_urgency_model(config),
                      category_model=build_category_model(config))


def build_urgency_model(config: OrgConfig) -> UrgencyModel | None:
    """The deployment's urgency model: its own file, the shipped one, or none."""
    if config.model_off("urgency"):
        return None
    path = config.model_path("urgency")
    return UrgencyModel.load(path) if path is not None else UrgencyModel.default()


def build_category_model(config: OrgConfig) -> CategoryModel | None:
    """The deployment's category model: its own file, the shipped one, or none."""
    if config.model_off("category"):
        return None
    path = config.model_path("category")
    return CategoryModel.load(path) if path is not None else CategoryModel.default()
