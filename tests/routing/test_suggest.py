"""Keyword suggestions learned from corrections: proposed with evidence, never applied alone."""

from __future__ import annotations

from routing.classifier import KeywordSet
from routing.suggest import parse_correction, render_yaml, suggest

KEYWORDS = KeywordSet.from_mapping({"categories": {
    "property_repair": {"words": {"楼道": 2.0, "门禁": 3.0}},
    "utilities": {"words": {"停水": 3.0}},
}})


def test_a_correction_note_names_the_categories() -> None:
    assert parse_correction("property_repair/normal → utilities/normal") == (
        "property_repair", "utilities")
    assert parse_correction("utilities/normal → utilities/urgent") is None


def test_words_seen_in_repeated_corrections_are_proposed_with_evidence() -> None:
    corrections = [
        ("楼道里的水表漏了一地", "property_repair/normal → utilities/normal"),
        ("3号楼楼道水表转得飞快", "property_repair/normal → utilities/normal"),
        ("楼道灯坏了", "property_repair/normal → property_repair/urgent"),
    ]
    found = {(s.category, s.word): s for s in suggest(corrections, KEYWORDS)}
    assert ("utilities", "水表") in found and found[("utilities", "水表")].adds
    assert len(found[("utilities", "水表")].evidence) == 2
    misled = found[("property_repair", "楼道")]
    assert not misled.adds and misled.weight < misled.current
    text = render_yaml(list(found.values()), 3)
    assert "utilities:" in text and "水表: 2" in text and "corrections" in text


def test_a_single_correction_is_not_enough() -> None:
    assert suggest([("水表漏了", "property_repair/normal → utilities/normal")], KEYWORDS) == []
