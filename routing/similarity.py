"""How alike two residents' reports are: character bigrams, robust to colloquial wording."""

from __future__ import annotations

import re

_NOISE = re.compile(r"[^\w]|_|\d", re.UNICODE)
# Words every report shares; they say nothing about whether two reports are the same problem.
_COMMON = set("的了是在我们你他她它这那有没不也都就还很太吧呢啊吗呀哦嘛请帮忙一下")


def bigrams(text: str) -> set[str]:
    """The character pairs of a text, without punctuation, digits and filler characters."""
    clean = "".join(ch for ch in _NOISE.sub("", text.lower()) if ch not in _COMMON)
    return {clean[i:i + 2] for i in range(len(clean) - 1)}


def similarity(a: str, b: str) -> float:
    """Overlap of bigrams relative to the shorter report (0..1)."""
    first, second = bigrams(a), bigrams(b)
    if not first or not second:
        return 0.0
    return len(first & second) / min(len(first), len(second))
