"""Learning from corrections: keyword changes proposed from what workers corrected, with evidence.

Nothing changes by itself: `huying keywords suggest` prints a keywords file an admin reviews and
names in the organisation file (`keywords_file`), then restarts.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import jieba

from routing.classifier import KeywordSet

jieba.setLogLevel(logging.WARNING)
_NOTE = re.compile(r"^(\w+)/(\w+) → (\w+)/(\w+)$")
_STOP = set("没有 一个 这个 那个 我们 你们 他们 已经 现在 今天 昨天 还是 就是 什么 怎么 "
            "一下 好几 几天 可以 能不能 请问 麻烦 谢谢 小区 楼下 楼上 我家 我们家".split())
MIN_SUPPORT = 2


@dataclass
class Suggestion:
    """Add `word` to `category` (weight > 0), or weaken it there (weight lowered)."""

    category: str
    word: str
    weight: float
    current: float
    evidence: list[str] = field(default_factory=list)

    @property
    def adds(self) -> bool:
        return self.current == 0


def parse_correction(note: str) -> tuple[str, str] | None:
    """(from category, to category) of a correction note, when the category changed."""
    match = _NOTE.match(note.strip())
    if not match or match.group(1) == match.group(3):
        return None
    return match.group(1), match.group(3)


def words(text: str) -> set[str]:
    return {w for w in jieba.lcut(text) if len(w) >= 2 and w not in _STOP
            and not w.isdigit() and re.search(r"\w", w)}


def suggest(corrections: Iterable[tuple[str, str]], keywords: KeywordSet,
            min_support: int = MIN_SUPPORT) -> list[Suggestion]:
    """Words that keep appearing in requests corrected to a category, and keywords of the
    category they were wrongly given that led the classifier astray."""
    added: dict[tuple[str, str], list[str]] = defaultdict(list)
    misled: dict[tuple[str, str], list[str]] = defaultdict(list)
    for text, note in corrections:
        change = parse_correction(note)
        if change is None:
            continue
        wrong, right = change
        for word in words(text):
            if keywords.categories.get(right, {}).get(word, 0) <= 0:
                added[(right, word)].append(text)
        for keyword, weight in keywords.categories.get(wrong, {}).items():
            if weight > 0 and keyword in text:
                misled[(wrong, keyword)].append(text)
    out = [Suggestion(category, word, 2.0, 0.0, texts)
           for (category, word), texts in added.items() if len(texts) >= min_support]
    out += [Suggestion(category, word, round(keywords.categories[category][word] / 2, 2),
                       keywords.categories[category][word], texts)
            for (category, word), texts in misled.items() if len(texts) >= min_support]
    return sorted(out, key=lambda s: (-len(s.evidence), s.category, s.word))


def render_yaml(suggestions: Sequence[Suggestion], corrections: int) -> str:
    """A keywords file an admin can review, keep what they agree with, and apply."""
    lines = [f"# huying keywords suggest: {len(suggestions)} suggestion(s) from {corrections} "
             "correction(s).", "# Review each line; delete what you disagree with; name this "
             "file as keywords_file in the organisation file and restart.", "categories:"]
    by_category: dict[str, list[Suggestion]] = defaultdict(list)
    for suggestion in suggestions:
        by_category[suggestion.category].append(suggestion)
    for category, items in sorted(by_category.items()):
        lines += [f"  {category}:", "    words:"]
        for s in items:
            why = ("add" if s.adds else f"was {s.current:g}, misled") + \
                f" — {len(s.evidence)} corrections, e.g. {s.evidence[0][:40]!r}"
            lines.append(f"      {s.word}: {s.weight:g}   # {why}")
    if not suggestions:
        lines.append("  {}  # nothing to suggest yet")
    return "\n".join(lines) + "\n"
