"""The deployment's classifier: the shipped keywords plus what its organisation file adds."""

from __future__ import annotations

import yaml

from routing.classifier import Classifier, KeywordSet
from routing.orgconfig import OrgConfig
from routing.urgency_model import UrgencyModel


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
    """The classifier with the deployment's keywords and urgency model."""
    return Classifier(config.taxonomy(), build_keywords(config),
                      urgency_model=build_urgency_model(config))


def build_urgency_model(config: OrgConfig) -> UrgencyModel | None:
    """The deployment's urgency model: its own file, the shipped one, or none."""
    if config.urgency_model_off:
        return None
    path = config.urgency_model_path()
    return UrgencyModel.load(path) if path is not None else UrgencyModel.default()
