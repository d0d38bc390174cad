"""Personal data: what supervisors above the community see masked, and what /forgetme removes."""

from __future__ import annotations

import re
from typing import Any

# Mobile and landline numbers, ID card numbers, and the parts of an address that single out a
# household (room, unit). A building stays readable: the request's own address names it.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}\d{7}[\dXx](?!\d)"), "[身份证号已隐藏]"),
    (re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?!\d)"), r"\1****\2"),
    (re.compile(r"(?<!\d)(0\d{2,3})[\s-]?\d{7,8}(?!\d)"), r"\1-****"),
    (re.compile(r"(?<!\d)\d{1,3}\s*-\s*\d{1,2}\s*-\s*\d{3,4}(?!\d)"), "*-*-***"),
    (re.compile(r"\d+\s*单元\s*\d+\s*(?:室|号|户)?"), "*单元*室"),
    (re.compile(r"(?<!\d)\d{3,4}\s*(?:室|户|房间)"), "***室"),
    (re.compile(r"(?<![\d号])\d{3,4}(?=\s*(?:的|家|那户|业主|住户))"), "***"),
)
MASKED_FIELDS = ("note", "reason", "detail")


def mask_personal(text: str) -> str:
    """The text with phone, ID and room numbers hidden."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A notice's payload as a supervisor above the community may read it."""
    masked = dict(payload)
    for field in MASKED_FIELDS:
        if isinstance(masked.get(field), str):
            masked[field] = mask_personal(masked[field])
    if isinstance(masked.get("request"), dict):
        request = dict(masked["request"])
        request["text"] = mask_personal(str(request.get("text", "")))
        masked["request"] = request
    if isinstance(masked.get("timeline"), list):
        masked["timeline"] = [
            {**event, "note": mask_personal(str(event.get("note", "")))}
            for event in masked["timeline"]
        ]
    masked["masked"] = True
    return masked
