"""Keyword classifier: a request's category and urgency from configurable weighted keywords.

The keywords live in configuration (``routing/data/keywords.yaml`` plus a deployment's own
additions), never in code; the code only knows how to read Chinese colloquial text:

- it normalises the text (full-width to half-width, lower case, punctuation and emoji out);
- it matches keywords as substrings and, for one-character keywords, as jieba tokens (with
  the configured user dictionary, so 飞线充电 or 化粪池 segment whole); where keywords overlap
  the longest one at a place wins;
- it matches gapped phrases (``楼上…漏``: the parts in order, at most ``MAX_GAP`` characters
  apart), which catch the many ways a resident words one thing (楼上那家的水管往俺家漏);
- it matches category keywords by pinyin too, so a homophone typo (电题 for 电梯, 冲电 for
  充电) still counts, as long as the typed characters are no word of their own (午夜 is not
  物业) and take no half of one (楼电梯 holds no 漏电);
- it learns character n-gram weights from the labelled example requests of the configuration
  (naive Bayes); they settle near ties and guess where no keyword speaks, always marked for
  review then;
- it reads urgency from separate cue groups in any category (danger now, it is over, a fault,
  a question, a suggestion, praise), ignoring danger cues that are negated (没有煤气味了) or
  only feared (容易摔倒);
- it reports how sure it is of the category; below ``review_threshold`` the verdict is marked
  ``needs_review`` (待确认) so a grid worker looks at it before any department does.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final

import jieba
import yaml

from routing.learnt import CategoryModel, UrgencyModel
from routing.taxonomy import FALLBACK_CATEGORY, Taxonomy, Urgency

__all__ = ["Classification", "Classifier", "KeywordSet", "normalize"]

log = logging.getLogger(__name__)

URGENCY_GROUPS: Final = (
    "urgent", "person", "over", "fault", "low", "suggest", "praise", "neutral")
"""Cue groups of the ``urgency`` section: see the header of keywords.yaml."""

NON_FAULT_CATEGORIES: Final = frozenset({"policy_inquiry", FALLBACK_CATEGORY})
"""Categories that name no broken thing: a question or praise may be low urgency there."""

INQUIRY_CATEGORY: Final = "policy_inquiry"
"""Where a question with nothing to fix goes (taxonomy.md), when the taxonomy has it."""

GAP_MARKS: Final = ("…", "*")
"""A keyword with one of these between its parts is a gapped phrase (楼上…漏)."""
MAX_GAP: Final = 12
"""Characters allowed between two parts of a gapped phrase."""

_TOP_KEYS: Final = ("categories", "urgency", "user_dict", "examples")
_ENTRY_KEYS: Final = ("words", "phrases")
_GAP_SPLIT: Final = re.compile("|".join(re.escape(m) for m in GAP_MARKS))

# Emoji are stripped, but a few carry a message a resident may send on its own.
_EMOJI_WORDS: Final = {"🆘": " sos "}
_NOT_KEPT: Final = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_ASCII_WORD: Final = re.compile(r"[0-9a-z]+")
_CJK: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_WORD: Final = re.compile(r"[a-z]+")

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
    "容易|怕|担心|万一|以免|防止|避免|预防|差点|差一点|险些|小心|注意|以防|如果|一旦|出了|会不会"
    "|要是|假如|真要|真$"  # 真着火了都跑不出去 imagines a fire; 真的着火了 reports one
)
_CONTEXT_CHARS: Final = 4
# "If" opens a clause that imagines what it names (要是发现邻居煤气中毒, 第一步该干啥): it
# cancels an urgent cue anywhere later in the same clause, not only right before it.
_IF_CLAUSE: Final = re.compile("万一|要是|如果|假如|假设|一旦")
_CLAUSE_CHARS: Final = 12
# A cue after or before "or" is one option in a question (是先打119还是先找物业,
# 该打物业电话还是直接打119).
_CHOICE_AFTER: Final = re.compile(r"^(?:还是|或者|或是)")
_CHOICE_BEFORE: Final = re.compile("还是直接|还是先")
# What makes a number an address or an amount rather than a call to 110, 119 or 120.
_NUMBER_UNIT: Final = re.compile(
    r" ?(?:室|号|栋|楼|层|单元|户|元|块|米|平|斤|公斤|个|天|分|秒|次|路|岁)")
_ADDRESS_BEFORE: Final = re.compile(r"(?:号楼|单元|栋|楼|房|门牌|住) ?$")
# Characters of context jieba gets on each side of a one-character keyword.
_TOKEN_MARGIN: Final = 8
# A pinyin match is a typo only when the typed characters are no common word themselves.
_PINYIN_WORD_FREQ: Final = 10
# Keywords weaker than this everywhere are not matched by sound.
_PINYIN_MIN_WEIGHT: Final = 3.0

_CATEGORIES: Final = 0
_URGENCY: Final = 1

DEFAULT_URGENT_THRESHOLD: Final = 3.0
DEFAULT_LOW_THRESHOLD: Final = 3.0
DEFAULT_EXAMPLE_WEIGHT: Final = 0.25
"""How much the n-grams learnt from the examples count: a keyword of weight 1 is worth a
log-likelihood gap of 4 (a factor of about 55)."""
DEFAULT_MODEL_WEIGHT: Final = 2.0
"""How much the category model counts: a keyword of weight 1 is worth a log-probability gap
of 0.5. Chosen by cross-validation on the training sets (1 and 4 both did worse)."""
DEFAULT_FIRM_CUES: Final = 4.5
"""Danger cues (with who is at risk, less what says it is over) scoring this much make a
request urgent whatever the urgency model says: a gas smell, a fire, a fall."""
DEFAULT_REVIEW_THRESHOLD: Final = 0.3
"""Confidence below which a verdict is ``needs_review`` (待确认): on the held-out set 15% of
the verdicts fall below it, and 70% of those name the right category against 94% of the rest
(see tests/routing/test_classifier_eval.py)."""
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
    """The classifier's verdict on one request text.

    ``needs_review`` is true when the confidence is below the classifier's review threshold:
    the request should go to the grid worker marked 待确认 rather than to a department.
    """

    category: str
    urgency: Urgency
    confidence: float
    matched: tuple[str, ...]
    needs_review: bool = False
    urgent_by_model: float | None = None
    """Set when the urgency model, not the keyword cues, made the request urgent: its
    probability. The worker is told, so that a false alarm is easy to recognise."""

    def as_json(self) -> dict[str, object]:
        """Return the verdict as the batch classifier prints it."""
        verdict: dict[str, object] = {
            "category": self.category,
            "urgency": self.urgency.value,
            "confidence": round(self.confidence, 3),
            "needs_review": self.needs_review,
            "matched": list(self.matched),
        }
        if self.urgent_by_model is not None:
            verdict["urgent_by_model"] = round(self.urgent_by_model, 3)
        return verdict


@dataclass(frozen=True)
class KeywordSet:
    """Weighted keywords per category and per urgency cue group, plus jieba user words.

    ``examples`` are labelled requests per category: the classifier learns character n-gram
    weights from them (see ``_Ngrams``), which back the keywords up where they say little.
    """

    categories: dict[str, dict[str, float]]
    urgency: dict[str, dict[str, float]]
    user_dict: tuple[str, ...] = ()
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)

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
        return cls(
            categories,
            urgency,
            _read_user_dict(data.get("user_dict")),
            _read_examples(data.get("examples")),
        )

    def merged(self, extra: KeywordSet) -> KeywordSet:
        """Return these keywords with a deployment's additions: new or re-weighted; 0 removes."""
        return KeywordSet(
            categories=_merge_groups(self.categories, extra.categories),
            urgency=_merge_groups(self.urgency, extra.urgency),
            user_dict=tuple(dict.fromkeys(self.user_dict + extra.user_dict)),
            examples={
                cid: tuple(dict.fromkeys(self.examples.get(cid, ()) + extra.examples.get(cid, ())))
                for cid in dict.fromkeys([*self.examples, *extra.examples])
            },
        )


class Classifier:
    """Classifies request texts against one taxonomy with one keyword set.

    ``review_threshold`` (default ``DEFAULT_REVIEW_THRESHOLD``): a verdict whose confidence is
    below it is marked ``needs_review``; 0 turns review off. ``pinyin`` (default on, needs the
    pypinyin package) matches homophone typos of keywords. ``example_weight`` (default
    ``DEFAULT_EXAMPLE_WEIGHT``) is how much the n-grams learnt from the examples count next to
    the keywords; 0 turns them off. ``category_model`` and ``model_weight`` (default
    ``DEFAULT_MODEL_WEIGHT``) do the same for a category model learnt from labelled requests
    (routing/learnt.py); ``urgency_model`` is a second opinion on urgency: it may call a
    request urgent, and below ``overrule_below`` (default: the model's own) it overrules danger
    cues weaker than ``firm_cues``.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        keywords: KeywordSet,
        *,
        urgent_threshold: float = DEFAULT_URGENT_THRESHOLD,
        low_threshold: float = DEFAULT_LOW_THRESHOLD,
        review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
        pinyin: bool = True,
        example_weight: float = DEFAULT_EXAMPLE_WEIGHT,
        urgency_model: UrgencyModel | None = None,
        category_model: CategoryModel | None = None,
        model_weight: float = DEFAULT_MODEL_WEIGHT,
        firm_cues: float = DEFAULT_FIRM_CUES,
        overrule_below: float | None = None,
    ) -> None:
        self._taxonomy = taxonomy
        self._category_order = {cid: i for i, cid in enumerate(taxonomy.ids)}
        self._fallback = taxonomy.get(FALLBACK_CATEGORY).id
        self._urgent_threshold = urgent_threshold
        self._low_threshold = low_threshold
        self._review_threshold = review_threshold
        self._user_dict = tuple(w for w in (normalize(w) for w in keywords.user_dict) if w)
        terms = _build_terms(taxonomy, keywords)
        plain = {text: t for text, t in terms.items() if len(t.parts) == 1}
        by_first: dict[str, list[_Term]] = {}
        for term in plain.values():
            if len(term.text) > 1:
                by_first.setdefault(term.text[0], []).append(term)
        self._by_first = {
            ch: tuple(sorted(ts, key=lambda t: -len(t.text))) for ch, ts in by_first.items()
        }
        self._by_token = plain
        self._single_chars = frozenset(t.text for t in plain.values() if len(t.text) == 1)
        self._patterns = tuple(t for t in terms.values() if len(t.parts) > 1)
        self._sounds = _Sounds.load() if pinyin else None
        self._by_sound = self._sounds.index(plain.values()) if self._sounds else {}
        self._tokenizer: Any = None
        self._example_weight = example_weight
        examples = {cid: ts for cid, ts in keywords.examples.items() if cid in taxonomy and ts}
        self._ngrams = _Ngrams(examples) if examples and example_weight > 0 else None
        self._urgency_model = urgency_model
        self._category_model = category_model if model_weight > 0 else None
        self._model_weight = model_weight
        self._firm_cues = firm_cues
        # The level belongs to the model's calibration: each model file carries its own.
        self._overrule_below = (overrule_below if overrule_below is not None
                                else urgency_model.overrule_below if urgency_model else 0.0)

    @property
    def taxonomy(self) -> Taxonomy:
        """The categories this classifier chooses from."""
        return self._taxonomy

    def warm_up(self) -> None:
        """Load jieba now, so the first request is not the one that waits for it."""
        self._tokenize("")
        self.classify("电梯坏了")

    def classify(self, text: str) -> Classification:
        """Return category, urgency, confidence and the keywords that decided them."""
        norm = self._spell_pinyin(normalize(text))
        if not norm:
            return self._verdict(self._fallback, Urgency.NORMAL, 0.0, ())
        hits = self._hits(norm)
        cat_scores, cat_terms = _score(norm, hits, _CATEGORIES)
        # A negative weight is counter-evidence: it can push a category out, never win it.
        cat_scores = {cid: score for cid, score in cat_scores.items() if score > 0}
        urg_scores, urg_terms = _score(norm, hits, _URGENCY)

        category, confidence = self._pick_category(cat_scores, norm)
        if self._plain_question(urg_scores) and cat_scores.get(INQUIRY_CATEGORY, 0.0) > 0:
            # 充电桩个人能申请装吗: a question with nothing to fix is an inquiry, whatever it is
            # about; the thing it names is not broken.
            category = INQUIRY_CATEGORY
            confidence = max(_share(cat_scores, category), 0.5)
        elif category == INQUIRY_CATEGORY and self._suggestion(urg_scores):
            # 建议社区办个培训班: a suggestion about community life asks nothing of the service
            # centre; it is `other` (taxonomy.md), low.
            category = self._fallback
        faulty = any(cid not in NON_FAULT_CATEGORIES for cid in cat_scores)
        urgency = self._urgency(category, urg_scores, faulty)
        by_model = None
        firm = urgency is Urgency.URGENT and _danger(urg_scores) >= self._firm_cues
        if self._urgency_model is not None and not firm:
            urgent, probability = self._urgency_model.urgent(norm)
            if urgency is not Urgency.URGENT and urgent:
                # The cues did not see danger; the model learnt from labelled requests may.
                urgency, by_model = Urgency.URGENT, probability
            elif urgency is Urgency.URGENT and probability < self._overrule_below:
                # One weak cue the model has all but never seen in an emergency: 救命 about
                # the square dancers, 出车祸 in last year's story.
                urgency = self._urgency(category, {**urg_scores, "urgent": 0.0}, faulty)
        if urgency is not Urgency.URGENT and self._praise(urg_scores):
            # 感谢…楼上漏水的事解决了: the fault words name what was fixed, not what to fix.
            category, urgency = self._fallback, Urgency.LOW
            confidence = max(_share(cat_scores, category), 0.6)

        matched = list(cat_terms.get(category, ()))
        if urgency is Urgency.URGENT:
            matched += urg_terms.get("urgent", []) + urg_terms.get("person", [])
        elif urgency is Urgency.LOW:
            for group in ("low", "suggest", "praise"):
                matched += urg_terms.get(group, [])
        return self._verdict(category, urgency, confidence, tuple(dict.fromkeys(matched)),
                             by_model)

    def _verdict(
        self, category: str, urgency: Urgency, confidence: float, matched: tuple[str, ...],
        urgent_by_model: float | None = None,
    ) -> Classification:
        review = confidence < self._review_threshold
        return Classification(category, urgency, confidence, matched, review, urgent_by_model)

    def _pick_category(self, scores: dict[str, float], text: str) -> tuple[str, float]:
        """Return the best category (earlier in the taxonomy on a tie) and the confidence.

        The keyword scores decide; what was learnt from labelled requests (the category model,
        the deployment's examples) adds its log-likelihood gaps, which settles near ties and
        the messages no keyword speaks for (then the verdict is always marked for review).
        """
        learnt = self._learnt(text)
        if not scores and not learnt:
            return self._fallback, 0.0
        candidates = set(scores) | set(learnt)
        floor = min(learnt.values(), default=0.0)

        def total(cid: str) -> float:
            return scores.get(cid, 0.0) + learnt.get(cid, floor)

        best = min(candidates, key=lambda cid: (-total(cid), self._category_order[cid]))
        if not scores:
            return best, 0.0
        share = _share(scores, best)
        if learnt and best != max(learnt, key=lambda cid: learnt[cid]):
            # The keywords and what was learnt disagree: trust the verdict less.
            share *= 0.75
        return best, share

    def _learnt(self, text: str) -> dict[str, float]:
        """The weighted log-likelihood gaps of the category model and the examples, for the
        categories of this taxonomy (the higher, the likelier; only differences count)."""
        sources = []
        if self._category_model is not None:
            sources.append((self._model_weight, self._category_model.scores(text)))
        if self._ngrams is not None:
            sources.append((self._example_weight, self._ngrams.scores(text)))
        learnt: dict[str, float] = {}
        for weight, gaps in sources:
            gaps = {cid: gap for cid, gap in gaps.items() if cid in self._category_order}
            if not gaps:
                continue
            # A category one source does not know counts as that source's least likely one.
            floor, before = min(gaps.values()), min(learnt.values(), default=0.0)
            for cid in learnt.keys() | gaps.keys():
                learnt[cid] = learnt.get(cid, before) + weight * gaps.get(cid, floor)
        return learnt

    def _plain_question(self, cues: dict[str, float]) -> bool:
        """Tell whether the message only asks: question cues, no fault, no danger."""
        return (
            cues.get("low", 0.0) >= self._low_threshold
            and cues.get("fault", 0.0) == 0
            and cues.get("urgent", 0.0) < self._urgent_threshold
        )

    def _suggestion(self, cues: dict[str, float]) -> bool:
        """Tell whether the message suggests rather than asks."""
        return (
            cues.get("suggest", 0.0) >= self._low_threshold
            and cues.get("low", 0.0) < self._low_threshold
        )

    def _praise(self, cues: dict[str, float]) -> bool:
        """Tell whether the message thanks or praises, for nothing or for a problem now solved."""
        praise = cues.get("praise", 0.0)
        if praise < self._low_threshold:
            return False
        return cues.get("over", 0.0) > 0 or cues.get("fault", 0.0) == 0

    def _urgency(self, category: str, cues: dict[str, float], faulty_categories: bool) -> Urgency:
        """Decide urgency from the cue scores; urgent first since missing it costs most."""
        if cues.get("urgent", 0.0) > 0 and _danger(cues) >= self._urgent_threshold:
            return Urgency.URGENT
        suggest = cues.get("suggest", 0.0)
        low = cues.get("low", 0.0) + cues.get("praise", 0.0) + suggest
        fault = cues.get("fault", 0.0)
        if category == self._fallback:
            # Praise and thanks may mention the fault that was fixed (感谢…修好了漏水); "other"
            # without thanks is a complaint about the service itself, or a bare greeting (在吗).
            praise = cues.get("praise", 0.0)
            if praise >= self._low_threshold or (praise > 0 and fault == 0):
                return Urgency.LOW
            asks = low >= self._low_threshold or cues.get("suggest", 0.0) >= 2
            return Urgency.LOW if fault == 0 and asks else Urgency.NORMAL
        # A question is low even with a fault cue when no category names a fault to fix
        # (医保卡丢了去哪补办), or when it asks more than it complains (疫苗本丢了能补吗).
        asks = category in NON_FAULT_CATEGORIES
        if asks and (fault == 0 or not faulty_categories or cues.get("low", 0.0) > fault):
            return Urgency.LOW
        if fault == 0 and low >= self._low_threshold:
            return Urgency.LOW
        if suggest - fault >= self._low_threshold:
            # A concrete suggestion (建议增设充电桩) keeps its department's category, and may
            # name what it would improve (建议多装几个路灯 晚上太黑) without being a fault report;
            # a question about a real fault (楼上漏水该找谁) stays normal.
            return Urgency.LOW
        return Urgency.NORMAL

    def _hits(self, text: str) -> list[_Hit]:
        """Find every keyword occurrence: substrings, jieba tokens, gapped phrases, pinyin."""
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
        if self._sounds is not None:
            for hit in self._sound_hits(text):
                hits.setdefault((hit.start, hit.end, hit.term.text), hit)
        for term in self._patterns:
            span = _find_gapped(text, term.parts)
            if span is not None:
                hits[(span[0], span[1], term.text)] = _Hit(span[0], span[1], term)
        return list(hits.values())

    def _spell_pinyin(self, text: str) -> str:
        """Write keywords typed as pinyin in characters (dian ti huai le -> 电梯坏了 le):
        residents who cannot pick characters send the letters, and everything after this
        (keywords, jieba, both models) reads characters.

        One latin word a syllable, each run spelt as the longest category keyword it sounds
        like (the keywords matched for homophone typos). A keyword of urgency alone, or an
        urgent one of two syllables, stays in letters: ni yao sha is 你要啥 far more often than
        你要杀; three syllables (mei qi wei, 煤气味) are rarely anything else.
        """
        words = [(m.start(), m.end(), m.group()) for m in _LATIN_WORD.finditer(text)]
        if len(words) < 2 or not self._by_sound:
            return text
        spelt: list[tuple[int, int, str]] = []
        i = 0
        while i < len(words):
            best: _Term | None = None
            for term, sounds in self._by_sound.get(words[i][2], ()):
                n = len(term.text)
                if (
                    _spellable(term)
                    and i + n <= len(words)
                    and all(words[i + k][2] in sounds[k] for k in range(1, n))
                    and (best is None or n > len(best.text))
                ):
                    best = term
            if best is None:
                i += 1
                continue
            n = len(best.text)
            spelt.append((words[i][0], words[i + n - 1][1], best.text))
            i += n
        for start, end, chars in reversed(spelt):
            text = text[:start] + chars + text[end:]
        return text

    def _sound_hits(self, text: str) -> Iterator[_Hit]:
        """Yield keywords written with a homophone typo (电题 for 电梯) where no keyword stands.

        A stretch of text counts as a typo of a keyword when it sounds the same (the common
        reading of each character), differs from it in one character (two in keywords of five
        or more), is no common word itself, and takes no half of a word: jieba must start and
        end words where it starts and ends (楼电梯 is 楼 + 电梯, not a typo of 漏电; 大冬天
        holds no 大洞). Where a keyword spelt right covers it, scoring drops it (see _score).
        """
        assert self._sounds is not None
        sounds = [self._sounds.of(ch) for ch in text]
        freq = None
        bounds: set[int] | None = None
        for i, here in enumerate(sounds):
            if not here:
                continue
            for syllable in here:
                for term, term_sounds in self._by_sound.get(syllable, ()):
                    n = len(term.text)
                    end = i + n
                    if end > len(text):
                        continue
                    typed = text[i:end]
                    if typed == term.text:
                        continue
                    diffs = sum(a != b for a, b in zip(typed, term.text, strict=True))
                    if diffs > (1 if n < 5 else 2):
                        continue
                    if not all(sounds[i + k] & term_sounds[k] for k in range(1, n)):
                        continue
                    if freq is None:
                        freq = self._word_freq()
                    if freq.get(typed, 0) >= _PINYIN_WORD_FREQ:
                        continue
                    if bounds is None:
                        bounds = {0}
                        for _, _, stop in self._tokenize(text):
                            bounds.add(stop)
                    if i not in bounds or end not in bounds:
                        continue
                    yield _Hit(i, end, term, sound=True)

    def _word_freq(self) -> Mapping[str, int]:
        if self._tokenizer is None:
            self._tokenizer = _tokenizer_for(self._user_dict)
        freq: Mapping[str, int] = self._tokenizer.FREQ
        return freq

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
    """One normalised keyword and every (dimension, group, weight) it contributes to.

    ``parts`` is the keyword itself, or the parts of a gapped phrase in order.
    """

    text: str
    ascii: bool
    entries: tuple[tuple[int, str, float], ...]
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    """One occurrence of a keyword in the normalised text."""

    start: int
    end: int
    term: _Term
    sound: bool = False
    """Matched by pinyin: a homophone typo of the keyword."""


class _Ngrams:
    """Character unigram and bigram likelihoods per category, learnt from example requests.

    A naive Bayes over which characters and character pairs a message contains: it knows the
    words residents use for each category beyond any keyword list (截肢, 耕地, 土路) and its
    scores are log-likelihoods relative to the best category (0 for the best, negative below).
    """

    _SMOOTHING: Final = 0.5

    def __init__(self, examples: Mapping[str, tuple[str, ...]]) -> None:
        counts: dict[str, dict[str, int]] = {}
        self._size = {cid: len(texts) for cid, texts in examples.items()}
        total = sum(self._size.values())
        self._prior = {cid: math.log(n / total) for cid, n in self._size.items()}
        for cid, texts in examples.items():
            for text in texts:
                for feature in _ngrams(normalize(text)):
                    counts.setdefault(feature, {}).setdefault(cid, 0)
                    counts[feature][cid] += 1
        # log P(feature | category), smoothed so that an unseen pair is rare, not impossible.
        self._logp = {
            feature: {
                cid: math.log((by_cat.get(cid, 0) + self._SMOOTHING) / (n + 1))
                for cid, n in self._size.items()
            }
            for feature, by_cat in counts.items()
        }

    def scores(self, text: str) -> dict[str, float]:
        """Log-likelihood of each category for text, relative to the most likely one."""
        totals = dict(self._prior)
        known = [self._logp[f] for f in _ngrams(text) if f in self._logp]
        if not known:
            return {}
        for logp in known:
            for cid in totals:
                totals[cid] += logp[cid]
        top = max(totals.values())
        return {cid: value - top for cid, value in totals.items()}


def _ngrams(text: str) -> set[str]:
    """The characters and adjacent character pairs of a normalised text, spaces dropped."""
    chars = text.replace(" ", "")
    return set(chars) | {chars[i : i + 2] for i in range(len(chars) - 1)}


class _Sounds:
    """Toneless pinyin of single characters, from pypinyin's character table."""

    def __init__(self, table: Mapping[int, str]) -> None:
        self._table = table
        self._cache: dict[str, frozenset[str]] = {}

    @classmethod
    def load(cls) -> _Sounds | None:
        try:
            from pypinyin.pinyin_dict import pinyin_dict
        except ImportError:  # pragma: no cover - pypinyin is a dependency
            log.warning("pypinyin is not installed: homophone typos will not be matched")
            return None
        return cls(pinyin_dict)

    def of(self, ch: str) -> frozenset[str]:
        """The toneless common reading of a CJK character; empty for anything else.

        Only the first (most common) reading counts: an input method types a character by
        it, and rare readings (跑 bó, 暴 bó) would make unrelated words sound alike.
        """
        found = self._cache.get(ch)
        if found is None:
            reading = self._table.get(ord(ch), "").split(",", 1)[0]
            found = frozenset([_toneless(reading)] if reading else [])
            self._cache[ch] = found
        return found

    def index(self, terms: Any) -> dict[str, tuple[tuple[_Term, tuple[frozenset[str], ...]], ...]]:
        """Index the strong all-CJK keywords of two or more characters by their first sound.

        Only keywords weighing ``_PINYIN_MIN_WEIGHT`` or more somewhere are typo-matched: a
        typo is worth catching in a domain noun (电梯, 垃圾, 井盖), while a weak word (俺爸)
        sounds like too much ordinary text (俺把).
        """
        index: dict[str, list[tuple[_Term, tuple[frozenset[str], ...]]]] = {}
        for term in terms:
            if len(term.text) < 2 or not _CJK.fullmatch(term.text):
                continue
            if max(abs(w) for _, _, w in term.entries) < _PINYIN_MIN_WEIGHT:
                continue
            readings = tuple(self.of(ch) for ch in term.text)
            if not all(readings):
                continue
            for syllable in readings[0]:
                index.setdefault(syllable, []).append((term, readings))
        return {s: tuple(ts) for s, ts in index.items()}


def _spellable(term: _Term) -> bool:
    """Whether pinyin that sounds like this keyword may be written as it (see _spell_pinyin)."""
    urgent = any(dim == _URGENCY and group == "urgent" for dim, group, _ in term.entries)
    return any(dim == _CATEGORIES for dim, _, _ in term.entries) and (
        not urgent or len(term.text) >= 3)


def _toneless(reading: str) -> str:
    """Drop the tone marks of one pinyin reading (zhòng -> zhong, lǜ -> lu)."""
    decomposed = unicodedata.normalize("NFD", reading)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _find_gapped(text: str, parts: tuple[str, ...]) -> tuple[int, int] | None:
    """Return the span of the first match of parts in order, each gap at most MAX_GAP long."""
    first = parts[0]
    start = text.find(first)
    while start >= 0:
        end = start + len(first)
        for part in parts[1:]:
            at = text.find(part, end, end + MAX_GAP + len(part))
            if at < 0:
                break
            end = at + len(part)
        else:
            return start, end
        start = text.find(first, start + 1)
    return None


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
    parts_of: dict[str, tuple[str, ...]] = {}
    sections = [
        (_CATEGORIES, cid, words) for cid, words in keywords.categories.items() if cid in taxonomy
    ] + [(_URGENCY, group, words) for group, words in keywords.urgency.items()]
    for dim, group, words in sections:
        for word, weight in words.items():
            parts = tuple(p for p in (normalize(p) for p in _GAP_SPLIT.split(word)) if p)
            norm = "…".join(parts)
            if weight != 0 and norm:
                entries.setdefault(norm, []).append((dim, group, float(weight)))
                parts_of[norm] = parts
    return {
        text: _Term(text, bool(_ASCII_WORD.fullmatch(text)), tuple(es), parts_of[text])
        for text, es in entries.items()
    }


def _score(text: str, hits: list[_Hit], dim: int) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Sum each group's weights in one dimension, counting each keyword once per group.

    Returns the scores and, per group, the keywords that added to it (for ``matched``).
    Gapped phrases neither hide nor are hidden by the keywords inside their span, but one that
    matches inside a single keyword (煤气…味 inside 煤气味) adds nothing to it; nor does a typo
    matched by sound where a keyword of the same dimension is spelt right.
    """
    scores: dict[str, float] = {}
    terms: dict[str, list[str]] = {}
    counted: set[tuple[str, str]] = set()
    # Sound-alike typos count for categories only: urgency has its own listed typos
    # (煤汽味), and ordinary text sounds too often like a danger word (要啥 / 要杀).
    mine = [
        h
        for h in hits
        if any(e[0] == dim for e in h.term.entries) and not (h.sound and dim == _URGENCY)
    ]
    plain = [(h.start, h.end) for h in mine if len(h.term.parts) == 1 and not h.sound]
    mine = [
        h
        for h in mine
        if (len(h.term.parts) == 1 and not h.sound)
        or not any(s <= h.start and h.end <= e for s, e in plain)
    ]
    # In (start, longest first) order an occurrence lies inside a longer keyword exactly when
    # an earlier one reaches as far: the longest keyword at a place wins.
    mine.sort(key=lambda h: (len(h.term.parts) > 1, h.start, -h.end))
    reach = -1
    for hit in mine:
        gapped = len(hit.term.parts) > 1
        if not gapped:
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


def _danger(cues: Mapping[str, float]) -> float:
    """How strongly the urgency cues say danger now: the danger cues, with who is at risk,
    less what says it is over."""
    return cues.get("urgent", 0.0) + cues.get("person", 0.0) - cues.get("over", 0.0)


def _cancelled(text: str, hit: _Hit) -> bool:
    """Tell whether an urgent cue is negated (没有煤气味), only feared (容易摔倒) or imagined
    (要是发现邻居煤气中毒), or one option of a question (打119还是找物业)."""
    before = text[max(0, hit.start - _CONTEXT_CHARS) : hit.start].rsplit(" ", 1)[-1]
    if _HYPOTHETICAL.search(before) or _CHOICE_BEFORE.search(before):
        return True
    clause = text[max(0, hit.start - _CLAUSE_CHARS) : hit.start].rsplit(" ", 1)[-1]
    if _IF_CLAUSE.search(clause) or _CHOICE_AFTER.match(text, hit.end):
        return True
    if _NEGATED.search(before) and not before.endswith(_QUESTION_NOT_NEGATION):
        return True
    return bool(_GONE_AFTER.match(text, hit.end))


def _ascii_bounded(text: str, start: int, end: int) -> bool:
    """Tell whether a latin/digit keyword stands alone (110 must not match inside 1101), and a
    number is not part of an address or an amount (120室, 3号楼119, 110块)."""
    if start > 0 and text[start - 1].isascii() and text[start - 1].isalnum():
        return False
    if end < len(text) and text[end].isascii() and text[end].isalnum():
        return False
    return not (text[start:end].isdigit() and (
        _NUMBER_UNIT.match(text, end) or _ADDRESS_BEFORE.search(text, 0, start)))


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
            parts = [normalize(part) for part in _GAP_SPLIT.split(word)]
            if not all(parts) or any(" " in part for part in parts):
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


def _read_examples(value: object) -> dict[str, tuple[str, ...]]:
    """Return the example requests per category id."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("examples: expected a mapping of category ids to lists of requests")
    result: dict[str, tuple[str, ...]] = {}
    for cid, texts in value.items():
        if not isinstance(cid, str) or not cid:
            raise ValueError(f"examples.{cid!r}: ids must be non-empty strings")
        if texts is None:
            continue
        if isinstance(texts, str) or not isinstance(texts, list | tuple):
            raise ValueError(f"examples.{cid}: expected a list of requests")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"examples.{cid}[{i}]: expected a non-empty request text")
        result[cid] = tuple(dict.fromkeys(texts))
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
