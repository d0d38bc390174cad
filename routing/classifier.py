"""Keyword classifier v1: a request's category and urgency from configurable weighted keywords.

The keywords live in configuration (``routing/data/keywords.yaml`` plus a deployment's own
additions), never in code; the code only knows how to read Chinese colloquial text: it
normalises it, matches keywords both as jieba tokens and as substrings, lets the longest
overlapping keyword win, and ignores urgent cues that are negated or hypothetical.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import jieba
import yaml

from routing.taxonomy import FALLBACK_CATEGORY, Taxonomy, Urgency

__all__ = ["Classification", "Classifier", "KeywordSet", "normalize"]

URGENCY_GROUPS: Final = ("urgent", "over", "fault", "low", "neutral")
"""Cue groups of the ``urgency`` section: see the header of keywords.yaml."""

NON_FAULT_CATEGORIES: Final = frozenset({"policy_inquiry", FALLBACK_CATEGORY})
"""Categories that name no broken thing: a question or praise may be low urgency there."""

_TOP_KEYS: Final = ("categories", "urgency", "user_dict")
_ENTRY_KEYS: Final = ("words", "phrases")

# Emoji are stripped, but a few carry a message a resident may send on its own.
_EMOJI_WORDS: Final = {"🆘": " 救命 "}
_NOT_KEPT: Final = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_ASCII_WORD: Final = re.compile(r"[0-9a-z]+")

# A negation right before an urgent cue (没有煤气味, 闻不到煤气味, 没着火), allowing a verb
# of perception in between; 有没有 / 是不是 are questions and must stay alarming.
_NEGATED: Final = re.compile(
    r"(?:没有|没|无|不再|不|未|别)(?:再|有|闻到|闻着|看到|看见|发现|什么|啥|任何|到)?$"
)
_QUESTION_NOT_NEGATION: Final = ("有没有", "是不是", "会不会", "要不要", "是否", "有无")
# The cue itself followed by "gone" (煤气味没了, 烟散了).
_GONE_AFTER: Final = re.compile(r"^(?:已经)?(?:没了|没有了|散了|消失了|闻不到了)")
# A "might happen" before an urgent cue (容易摔倒, 怕老人摔倒, 以免发生火灾) is a hazard, not
# an emergency; the taxonomy keeps slow hazards at normal.
_HYPOTHETICAL: Final = re.compile(
    "容易|怕|担心|万一|以免|防止|避免|预防|差点|差一点|险些|小心|注意|以防|如果|一旦|出了"
)
_CONTEXT_CHARS: Final = 4
# Characters of context jieba gets on each side of a one-character keyword.
_TOKEN_MARGIN: Final = 8

_CATEGORIES: Final = 0
_URGENCY: Final = 1

DEFAULT_URGENT_THRESHOLD: Final = 3.0
DEFAULT_LOW_THRESHOLD: Final = 3.0
# A category score at which one keyword alone is fully trusted (see _share).
_CONFIDENT_SCORE: Final = 5.0


def normalize(text: str) -> str:
    """Return text as the classifier reads it: half-width, lower-case, words only."""
    text = unicodedata.normalize("NFKC", text).lower()
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    # Runs of punctuation/emoji become one space so a phrase never matches across a break.
    return _NOT_KEPT.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one request text."""

    category: str
    urgency: Urgency
    confidence: float
    matched: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """Return the verdict as the batch classifier prints it."""
        return {
            "category": self.category,
            "urgency": self.urgency.value,
            "confidence": round(self.confidence, 3),
            "matched": list(self.matched),
        }


@dataclass(frozen=True)
class KeywordSet:
    """Weighted keywords per category and per urgency cue group, plus jieba user words."""

    categories: dict[str, dict[str, float]]
    urgency: dict[str, dict[str, float]]
    user_dict: tuple[str, ...] = ()

    @classmethod
    def defaults(cls) -> KeywordSet:
        """Return the keywords shipped in routing/data/keywords.yaml."""
        return cls.from_mapping(_default_mapping())

    @classmethod
    def from_yaml(cls, text: str) -> KeywordSet:
        """Parse keywords from YAML text in the keywords.yaml format."""
        data = yaml.load(text, Loader=_YAML_LOADER)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError("keywords: the document must be a mapping")
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> KeywordSet:
        """Build a set from parsed YAML; raise ValueError naming the first bad key."""
        if not isinstance(data, Mapping):
            raise ValueError("keywords: expected a mapping")
        for key in data:
            if key not in _TOP_KEYS:
                raise ValueError(f"{key}: unknown key (expected one of {', '.join(_TOP_KEYS)})")
        categories = {
            str(cid): _read_entry(f"categories.{cid}", entry)
            for cid, entry in _read_section("categories", data.get("categories")).items()
        }
        urgency: dict[str, dict[str, float]] = {}
        for group, entry in _read_section("urgency", data.get("urgency")).items():
            if group not in URGENCY_GROUPS:
                raise ValueError(
                    f"urgency.{group}: unknown cue group (expected {', '.join(URGENCY_GROUPS)})"
                )
            urgency[str(group)] = _read_entry(f"urgency.{group}", entry)
        return cls(categories, urgency, _read_user_dict(data.get("user_dict")))

    def merged(self, extra: KeywordSet) -> KeywordSet:
        """Return these keywords with a deployment's additions: new or re-weighted; 0 removes."""
        return KeywordSet(
            categories=_merge_groups(self.categories, extra.categories),
            urgency=_merge_groups(self.urgency, extra.urgency),
            user_dict=tuple(dict.fromkeys(self.user_dict + extra.user_dict)),
        )


class Classifier:
    """Classifies request texts against one taxonomy with one keyword set."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        keywords: KeywordSet,
        *,
        urgent_threshold: float = DEFAULT_URGENT_THRESHOLD,
        low_threshold: float = DEFAULT_LOW_THRESHOLD,
    ) -> None:
        self._taxonomy = taxonomy
        self._category_order = {cid: i for i, cid in enumerate(taxonomy.ids)}
        self._fallback = taxonomy.get(FALLBACK_CATEGORY).id
        self._urgent_threshold = urgent_threshold
        self._low_threshold = low_threshold
        self._user_dict = tuple(w for w in (normalize(w) for w in keywords.user_dict) if w)
        terms = _build_terms(taxonomy, keywords)
        by_first: dict[str, list[_Term]] = {}
        for term in terms.values():
            if len(term.text) > 1:
                by_first.setdefault(term.text[0], []).append(term)
        self._by_first = {
            ch: tuple(sorted(ts, key=lambda t: -len(t.text))) for ch, ts in by_first.items()
        }
        self._by_token = terms
        self._single_chars = frozenset(t.text for t in terms.values() if len(t.text) == 1)
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        """Load jieba now, so the first request is not the one that waits for it."""
        self._tokenize("")

    def classify(self, text: str) -> Classification:
        """Return category, urgency, confidence and the keywords that decided them."""
        norm = normalize(text)
        if not norm:
            return Classification(self._fallback, Urgency.NORMAL, 0.0, ())
        hits = self._hits(norm)
        cat_scores, cat_terms = _score(norm, hits, _CATEGORIES)
        # A negative weight is counter-evidence: it can push a category out, never win it.
        cat_scores = {cid: score for cid, score in cat_scores.items() if score > 0}
        urg_scores, urg_terms = _score(norm, hits, _URGENCY)

        category, confidence = self._pick_category(cat_scores)
        faulty = any(cid not in NON_FAULT_CATEGORIES for cid in cat_scores)
        urgency = self._urgency(category, urg_scores, faulty)
        if urgency is not Urgency.URGENT and self._thanks_for_a_fix(urg_scores):
            # 感谢…楼上漏水的事解决了: the fault words name what was fixed, not what to fix.
            category, urgency = self._fallback, Urgency.LOW
            confidence = _share(cat_scores, category)

        matched = list(cat_terms.get(category, ()))
        if urgency is Urgency.URGENT:
            matched += urg_terms.get("urgent", ())
        elif urgency is Urgency.LOW:
            matched += urg_terms.get("low", ())
        return Classification(category, urgency, confidence, tuple(dict.fromkeys(matched)))

    def _pick_category(self, scores: dict[str, float]) -> tuple[str, float]:
        """Return the best-scoring category (earlier in the taxonomy on a tie) and confidence."""
        if not scores:
            return self._fallback, 0.0
        best = min(scores, key=lambda cid: (-scores[cid], self._category_order[cid]))
        return best, _share(scores, best)

    def _thanks_for_a_fix(self, cues: dict[str, float]) -> bool:
        """Tell whether the message thanks or praises for a problem that is already solved."""
        return cues.get("over", 0.0) > 0 and cues.get("low", 0.0) >= self._low_threshold

    def _urgency(self, category: str, cues: dict[str, float], faulty_categories: bool) -> Urgency:
        """Decide urgency from the cue scores; urgent first since missing it costs most."""
        if cues.get("urgent", 0.0) - cues.get("over", 0.0) >= self._urgent_threshold:
            return Urgency.URGENT
        low, fault = cues.get("low", 0.0), cues.get("fault", 0.0)
        if category == self._fallback and low > 0 and (fault == 0 or low >= self._low_threshold):
            # Praise and thanks may mention the fault that was fixed (感谢…修好了漏水).
            return Urgency.LOW
        # A question is low even with a fault cue when no category names a fault to fix
        # (医保卡丢了去哪补办); "other" without thanks is a complaint about the service itself.
        asks = category in NON_FAULT_CATEGORIES and category != self._fallback
        if asks and (fault == 0 or not faulty_categories):
            return Urgency.LOW
        if fault > 0:
            return Urgency.NORMAL
        if low >= self._low_threshold:
            # A concrete suggestion (建议增设充电桩) keeps its department's category.
            return Urgency.LOW
        return Urgency.NORMAL

    def _hits(self, text: str) -> list[_Hit]:
        """Find every keyword occurrence: substrings, plus jieba tokens for 1-char keywords."""
        hits: dict[tuple[int, int, str], _Hit] = {}
        by_first = self._by_first
        for i, ch in enumerate(text):
            for term in by_first.get(ch, ()):
                end = i + len(term.text)
                if text.startswith(term.text, i) and (
                    not term.ascii or _ascii_bounded(text, i, end)
                ):
                    hits[(i, end, term.text)] = _Hit(i, end, term)
        for lo, hi in self._token_windows(text):
            for word, start, end in self._tokenize(text[lo:hi]):
                found = self._by_token.get(word)
                start, end = start + lo, end + lo
                # The same keyword at the same place from both matchers counts once.
                if found is not None and (start, end, word) not in hits:
                    hits[(start, end, word)] = _Hit(start, end, found)
        return list(hits.values())

    def _token_windows(self, text: str) -> list[tuple[int, int]]:
        """Return the stretches of text around 1-char keywords, the only ones jieba must cut.

        Segmenting is most of the cost of a long message, and a word boundary depends only on
        a few characters around it, so a margin on each side gives jieba's answer for the
        whole text.
        """
        windows: list[tuple[int, int]] = []
        for i, ch in enumerate(text):
            if ch not in self._single_chars:
                continue
            lo, hi = max(0, i - _TOKEN_MARGIN), min(len(text), i + _TOKEN_MARGIN + 1)
            if windows and lo <= windows[-1][1]:
                windows[-1] = (windows[-1][0], hi)
            else:
                windows.append((lo, hi))
        return windows

    def _tokenize(self, text: str) -> Iterator[tuple[str, int, int]]:
        """Segment text with this classifier's jieba tokenizer, creating it on first use."""
        if self._tokenizer is None:
            self._tokenizer = _tokenizer_for(self._user_dict)
        result: Iterator[tuple[str, int, int]] = self._tokenizer.tokenize(text)
        return result


@dataclass(frozen=True, slots=True)
class _Term:
    """One normalised keyword and every (dimension, group, weight) it contributes to."""

    text: str
    ascii: bool
    entries: tuple[tuple[int, str, float], ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    """One occurrence of a keyword in the normalised text."""

    start: int
    end: int
    term: _Term


def _share(scores: dict[str, float], category: str) -> float:
    """Return how sure a category is: its share of all scores, damped when the score is weak."""
    top = scores.get(category, 0.0)
    if top <= 0:
        return 0.0
    # One weak keyword is a guess even when nothing competes with it.
    return top / sum(scores.values()) * min(1.0, top / _CONFIDENT_SCORE)


def _build_terms(taxonomy: Taxonomy, keywords: KeywordSet) -> dict[str, _Term]:
    """Index the keywords the taxonomy uses by normalised text; unknown categories drop out."""
    entries: dict[str, list[tuple[int, str, float]]] = {}
    sections = [
        (_CATEGORIES, cid, words) for cid, words in keywords.categories.items() if cid in taxonomy
    ] + [(_URGENCY, group, words) for group, words in keywords.urgency.items()]
    for dim, group, words in sections:
        for word, weight in words.items():
            norm = normalize(word)
            if weight != 0 and norm:
                entries.setdefault(norm, []).append((dim, group, float(weight)))
    return {
        text: _Term(text, bool(_ASCII_WORD.fullmatch(text)), tuple(es))
        for text, es in entries.items()
    }


def _score(text: str, hits: list[_Hit], dim: int) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Sum each group's weights in one dimension, counting each keyword once per group.

    Returns the scores and, per group, the keywords that added to it (for ``matched``).
    """
    scores: dict[str, float] = {}
    terms: dict[str, list[str]] = {}
    counted: set[tuple[str, str]] = set()
    mine = [h for h in hits if any(e[0] == dim for e in h.term.entries)]
    # In (start, longest first) order an occurrence lies inside a longer keyword exactly when
    # an earlier one reaches as far: the longest keyword at a place wins.
    mine.sort(key=lambda h: (h.start, -h.end))
    reach = -1
    for hit in mine:
        if hit.end <= reach:
            continue
        reach = hit.end
        for entry_dim, group, weight in hit.term.entries:
            if entry_dim != dim or (group, hit.term.text) in counted:
                continue
            if group in ("urgent", "over") and _cancelled(text, hit):
                continue
            counted.add((group, hit.term.text))
            scores[group] = scores.get(group, 0.0) + weight
            if weight > 0:
                terms.setdefault(group, []).append(hit.term.text)
    return scores, terms


def _cancelled(text: str, hit: _Hit) -> bool:
    """Tell whether an urgent cue is negated (没有煤气味) or only feared (容易摔倒)."""
    before = text[max(0, hit.start - _CONTEXT_CHARS) : hit.start].rsplit(" ", 1)[-1]
    if _HYPOTHETICAL.search(before):
        return True
    if _NEGATED.search(before) and not before.endswith(_QUESTION_NOT_NEGATION):
        return True
    return bool(_GONE_AFTER.match(text, hit.end))


def _ascii_bounded(text: str, start: int, end: int) -> bool:
    """Tell whether a latin/digit keyword stands alone (110 must not match inside 1101)."""
    return not (start > 0 and text[start - 1].isascii() and text[start - 1].isalnum()) and not (
        end < len(text) and text[end].isascii() and text[end].isalnum()
    )


def _read_section(name: str, value: object) -> Mapping[str, object]:
    """Return a top-level section as a mapping; a missing or empty section is empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: expected a mapping of ids to keyword lists")
    for key in value:
        if not isinstance(key, str) or not key:
            raise ValueError(f"{name}.{key!r}: ids must be non-empty strings")
    return value


def _read_entry(path: str, value: object) -> dict[str, float]:
    """Flatten one group's ``words`` and ``phrases`` into keyword -> weight."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a mapping with 'words' and/or 'phrases'")
    result: dict[str, float] = {}
    for kind, words in value.items():
        if kind not in _ENTRY_KEYS:
            raise ValueError(f"{path}.{kind}: unknown key (expected 'words' or 'phrases')")
        if words is None:
            continue
        if not isinstance(words, Mapping):
            raise ValueError(f"{path}.{kind}: expected a mapping of keyword to weight")
        for word, weight in words.items():
            where = f"{path}.{kind}.{word}"
            if not isinstance(word, str) or not word.strip():
                raise ValueError(f"{where}: keywords must be non-empty strings (quote numbers)")
            norm = normalize(word)
            if not norm or " " in norm:
                raise ValueError(f"{where}: keyword has no matchable text or contains a break")
            # bool is an int subclass; `电梯: yes` is a typo, not a weight of 1.
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ValueError(f"{where}: weight must be a number, got {weight!r}")
            if not math.isfinite(weight):
                raise ValueError(f"{where}: weight must be a finite number")
            if word in result:
                raise ValueError(f"{where}: listed twice in {path}")
            result[word] = float(weight)
    return result


def _read_user_dict(value: object) -> tuple[str, ...]:
    """Return the jieba user words as a tuple of non-empty strings."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("user_dict: expected a list of words")
    for i, word in enumerate(value):
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"user_dict[{i}]: expected a non-empty word, got {word!r}")
    return tuple(dict.fromkeys(value))


def _merge_groups(
    base: dict[str, dict[str, float]], extra: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Overlay extra weights on base weights per group; weight 0 deletes the keyword."""
    merged = {group: dict(words) for group, words in base.items()}
    for group, words in extra.items():
        target = merged.setdefault(group, {})
        for word, weight in words.items():
            if weight == 0:
                target.pop(word, None)
            else:
                target[word] = weight
    return merged


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _default_text() -> str:
    """Read the shipped keywords.yaml once per process."""
    return resources.files("routing").joinpath("data/keywords.yaml").read_text(encoding="utf-8")


def _default_mapping() -> Mapping[str, object]:
    """Parse the shipped keywords afresh so callers never share mutable dicts."""
    data = yaml.load(_default_text(), Loader=_YAML_LOADER)
    if not isinstance(data, Mapping):
        raise ValueError("routing/data/keywords.yaml: the document must be a mapping")
    return data


# jieba's dictionary is large (about a second to load), so it is read once per process and
# each distinct user dictionary gets a tokenizer whose word table starts as a copy of it.
_tokenizers: dict[tuple[str, ...], Any] = {}
_tokenizer_lock = threading.Lock()


def _tokenizer_for(user_dict: tuple[str, ...]) -> Any:
    """Return the process-wide jieba tokenizer that knows these user words."""
    with _tokenizer_lock:
        tokenizer = _tokenizers.get(user_dict)
        if tokenizer is not None:
            return tokenizer
        base = _tokenizers.get(())
        if base is None:
            jieba.setLogLevel(logging.WARNING)
            base = jieba.Tokenizer()
            base.initialize()
            _tokenizers[()] = base
        if not user_dict:
            return base
        tokenizer = jieba.Tokenizer()
        # Reuse the loaded word table instead of reading the dictionary file again.
        tokenizer.FREQ = dict(base.FREQ)
        tokenizer.total = base.total
        tokenizer.initialized = True
        for word in user_dict:
            tokenizer.add_word(word)
        _tokenizers[user_dict] = tokenizer
        return tokenizer
