"""Masking personal numbers for supervisors above the community."""

from __future__ import annotations

import pytest

from routing.privacy import mask_payload, mask_personal


@pytest.mark.parametrize(("text", "hidden", "kept"), [
    ("我是3单元502的住户，电话13812345678", ["13812345678", "502"], ["138****5678"]),
    ("联系电话 138-1234-5678 王女士", ["1234"], ["王女士"]),
    ("座机0537-2345678有人接", ["2345678"], ["0537"]),
    ("5-2-301楼上漏水", ["5-2-301"], ["楼上漏水"]),
    ("1702室的业主天天装修", ["1702"], ["业主天天装修"]),
    ("身份证370802199001011234办低保", ["370802199001011234"], ["办低保"]),
    ("402家的狗天天叫", ["402"], ["家的狗天天叫"]),
])
def test_numbers_that_single_out_a_household_are_hidden(
    text: str, hidden: list[str], kept: list[str]
) -> None:
    masked = mask_personal(text)
    assert all(h not in masked for h in hidden), masked
    assert all(k in masked for k in kept), masked


def test_ordinary_words_and_counts_stay() -> None:
    text = "2号楼电梯坏了3天，有20多户老人下不了楼"
    assert mask_personal(text) == text


def test_a_payload_is_masked_in_text_notes_and_timeline() -> None:
    payload = {"kind": "escalated", "note": "业主电话13912345678",
               "request": {"text": "301室漏水", "number": 5},
               "timeline": [{"at": "x", "actor": "陈亮", "action": "escalated",
                             "note": "打了13912345678没人接"}]}
    masked = mask_payload(payload)
    assert "13912345678" not in str(masked)
    assert "301室" not in masked["request"]["text"]
    assert masked["request"]["number"] == 5 and masked["masked"] is True
    assert payload["note"] == "业主电话13912345678", "the original is not changed"
