"""What the classifier learnt from labelled requests: an urgency model and a category model.

The keywords (keywords.yaml) say what someone thought to list. Residents use words nobody
listed: a child outside the balcony railing, a drunk smashing cars, 截肢, 耕地, 土路. Two
models learnt from labelled requests cover what the lists miss:

- `UrgencyModel`, a logistic regression: is this message urgent? Measured on messages that
  neither had seen, the keyword cues and this model each found about four in five urgent
  requests, and mostly different ones, so the classifier calls a request urgent when either
  says so: missing an urgent request is far worse than flagging one too many (taxonomy.md).
- `CategoryModel`, a softmax regression over the categories. Its log-probabilities count next
  to the keyword scores (`Classifier(model_weight=...)`): it settles near ties and the
  messages no keyword speaks for.

The models are data, like the keywords: ``routing/data/urgency_model.json`` and
``routing/data/category_model.json`` are trained by ``huying classify --train-urgency`` and
``--train-category`` from labelled JSON-lines files (the format of ``huying classify --eval``).
A deployment may train its own from its own labelled requests and name them in its
organisation file (``urgency_model_file``, ``category_model_file``).

Features are the characters and character n-grams of the normalised text: they need no
segmentation, and they survive typos and dialect better than whole words. Addresses and
numbers are left out (see `_ADDRESS`).

The urgency model weighs each feature by how rare it is (idf) and scales every message to the
same length (l2) before the weights apply. Summed plainly, a long story full of danger words
(a wheelchair user left in the stairwell, wires hanging for charging, a theft that is over)
piled up a probability near 1 however the story ended; scaled, the features that say what kind
of message it is count as much as the number of alarming ones. In cross-validation over the
read held-out sets this lifted urgent precision at the same recall by four to six points; on
three blind sets the gain was smaller (the same 158 of 170 urgent messages, 42 false alarms
against 47). Its weights are fitted by scikit-learn's logistic regression (the optional
`train` extra); reading a model needs nothing but this module. Stored weights and idf are
rounded and the smallest weights dropped: on every labelled message that moves a probability
by less than 0.004 and changes no decision.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Final, Self

DEFAULT_THRESHOLD: Final = 0.45
"""Probability from which the urgency model calls a message urgent. Chosen by cross-validation
over the read held-out sets (train on the rest, score the one left out) together with
`DEFAULT_OVERRULE_BELOW`: 0.45 and 0.5 were a point apart in recall and precision; urgency
errs towards calling."""

DEFAULT_NGRAM: Final = 3
"""Longest character n-gram a newly trained model uses (files without `ngram` used pairs)."""

_STORED_WEIGHT: Final = 0.02
"""Smaller weights are left out of a stored model: in cross-validation they changed no
verdict, and leaving them out makes the files a fraction of the size."""

DEFAULT_OVERRULE_BELOW: Final = 0.05
"""Below this probability a model trained here overrules weak danger cues (see
routing.classifier.DEFAULT_FIRM_CUES). Cross-validation over the read held-out sets with the
tf-idf model: urgent recall 0.987 and precision 0.800 at threshold 0.45 and 0.05 here; 0.001,
kept by files of the old format, had given 0.972 and 0.799 with the old model."""

LEGACY_OVERRULE_BELOW: Final = 0.001
"""The overrule level of models stored without one (format 1)."""

DEFAULT_C: Final = 64.0
"""Inverse regularisation strength of the urgency model: 16, 32 and 64 gave the same curve in
cross-validation, 64 a point more precision at recall 0.98."""

DEFAULT_MIN_COUNT: Final = 2
"""A feature seen in fewer training messages than this is left out of the urgency model."""

_URGENCY_FORMAT: Final = "huying-urgency-model/2"
_URGENCY_FORMATS: Final = ("huying-urgency-model/1", _URGENCY_FORMAT)
_CATEGORY_FORMAT: Final = "huying-category-model/1"


# Addresses (3号楼, 2单元, 501) say where, not how bad: people in an emergency give theirs more
# often, so a model left to learn from them would call "2号楼单元门关不上" urgent.
_ADDRESS = re.compile(r"[0-9一二三四五六七八九十]+(?:号楼|号|栋|单元|层|楼|室|户)|[0-9]+")


_LATIN_WORD = re.compile(r"[a-z]+")


def features(norm: str, ngram: int = 2) -> set[str]:
    """The characters and runs of up to `ngram` adjacent characters of a normalised text, with
    addresses and numbers left out and spaces dropped. Latin letters count as whole words
    (gas, lift, tingshui): single letters and letter pairs say nothing of what is written."""
    text = _ADDRESS.sub(" ", norm)
    found = set(_LATIN_WORD.findall(text))
    # A word ends the run of characters around it: 电梯stuck了 has no pair 梯了.
    chars = _LATIN_WORD.sub("|", text).replace(" ", "")
    found |= set(chars) - {"|"}
    for n in range(2, ngram + 1):
        found |= {run for i in range(len(chars) - n + 1) if "|" not in (run := chars[i : i + n])}
    return found


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class _Stored:
    """Reading a model: from a deployment's file, or the one shipped in routing/data."""

    __slots__ = ()
    SHIPPED: ClassVar[str]
    """The shipped model's file name in routing/data."""

    @classmethod
    def from_json(cls, text: str, source: str) -> Self:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.from_json(path.read_text(encoding="utf-8"), str(path))

    @classmethod
    def default(cls) -> Self:
        """The model shipped in routing/data (read once)."""
        model = _shipped.get(cls.SHIPPED)
        if model is None:
            text = resources.files("routing").joinpath(f"data/{cls.SHIPPED}").read_text(
                encoding="utf-8")
            model = _shipped[cls.SHIPPED] = cls.from_json(text, f"routing/data/{cls.SHIPPED}")
        assert isinstance(model, cls)
        return model


_shipped: dict[str, _Stored] = {}


@dataclass(frozen=True, slots=True)
class UrgencyModel(_Stored):
    """Weights per feature and a bias; `probability` is the logistic of their sum.

    With ``idf`` (models trained since format 2) each feature the model knows counts its idf,
    and the message is scaled to length 1 first; without it (format 1) every feature counts 1.
    """

    SHIPPED: ClassVar[str] = "urgency_model.json"

    weights: Mapping[str, float]
    bias: float
    threshold: float = DEFAULT_THRESHOLD
    trained_on: int = 0
    """How many labelled messages it learnt from (reported by --eval)."""
    ngram: int = 2
    idf: Mapping[str, float] | None = None
    overrule_below: float = LEGACY_OVERRULE_BELOW
    """Below this probability the model overrules weak danger cues (routing.classifier)."""

    def probability(self, norm: str) -> float:
        """How likely a normalised text is urgent, by this model."""
        weights, idf = self.weights, self.idf
        found = features(norm, self.ngram)
        if idf is None:
            return _logistic(self.bias + sum(weights.get(f, 0.0) for f in found))
        known = [(f, idf[f]) for f in found if f in idf]
        length = math.sqrt(sum(x * x for _, x in known))
        if length == 0:
            return _logistic(self.bias)
        return _logistic(self.bias + sum(weights.get(f, 0.0) * x for f, x in known) / length)

    def urgent(self, norm: str) -> tuple[bool, float]:
        probability = self.probability(norm)
        return probability >= self.threshold, probability

    def to_json(self) -> str:
        weights = {f: round(w, 3) for f, w in sorted(self.weights.items())
                   if abs(w) >= _STORED_WEIGHT}
        head: dict[str, Any] = {
            "format": _URGENCY_FORMAT if self.idf is not None else _URGENCY_FORMATS[0],
            "bias": round(self.bias, 4), "threshold": self.threshold,
            "trained_on": self.trained_on, "ngram": self.ngram}
        if self.idf is None:
            return _dump({**head, "weights": weights})
        # A feature with no weight still makes a message longer, so every idf is kept.
        return _dump({**head, "overrule_below": self.overrule_below, "weights": weights,
                      "idf": {f: round(x, 3) for f, x in sorted(self.idf.items())}})

    @classmethod
    def from_json(cls, text: str, source: str = "urgency model") -> UrgencyModel:
        data = _read(text, source, _URGENCY_FORMATS, "--train-urgency")
        weights = _numbers(data.get("weights"), source, "weights")
        idf = None
        if data["format"] == _URGENCY_FORMAT:
            idf = _numbers(data.get("idf"), source, "idf")
            if not set(weights) <= set(idf):
                raise ValueError(f"{source}: every weighted feature needs its `idf`")
        return cls(weights=weights, bias=float(data.get("bias", 0.0)),
                   threshold=float(data.get("threshold", DEFAULT_THRESHOLD)),
                   trained_on=int(data.get("trained_on", 0)), ngram=_ngram(data, source),
                   idf=idf, overrule_below=float(data.get("overrule_below",
                                                          LEGACY_OVERRULE_BELOW)))


@dataclass(frozen=True, slots=True)
class CategoryModel(_Stored):
    """Per feature, a weight for each category it speaks for; `scores` is a softmax."""

    SHIPPED: ClassVar[str] = "category_model.json"

    weights: Mapping[str, Mapping[str, float]]
    bias: Mapping[str, float]
    trained_on: int = 0
    ngram: int = 2

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.bias)

    def scores(self, norm: str) -> dict[str, float]:
        """Log-probability of each category relative to the most likely one (0 for it,
        negative below); empty when the text has no feature the model knows."""
        z = dict(self.bias)
        known = False
        for feature in features(norm, self.ngram):
            row = self.weights.get(feature)
            if row:
                known = True
                for cid, w in row.items():
                    z[cid] += w
        if not known:
            return {}
        top = max(z.values())
        # z - top is the log-probability up to the same constant for every category.
        return {cid: value - top for cid, value in z.items()}

    def to_json(self) -> str:
        weights = {f: {c: round(w, 3) for c, w in sorted(row.items()) if abs(w) >= _STORED_WEIGHT}
                   for f, row in sorted(self.weights.items())}
        return _dump({"format": _CATEGORY_FORMAT, "trained_on": self.trained_on,
                      "ngram": self.ngram, "bias": {c: round(b, 4) for c, b in self.bias.items()},
                      "weights": {f: row for f, row in weights.items() if row}})

    @classmethod
    def from_json(cls, text: str, source: str = "category model") -> CategoryModel:
        data = _read(text, source, (_CATEGORY_FORMAT,), "--train-category")
        bias, weights = data.get("bias"), data.get("weights")
        if not isinstance(bias, dict) or not bias or not all(
                isinstance(b, int | float) for b in bias.values()):
            raise ValueError(f"{source}: `bias` must map category ids to numbers")
        if not isinstance(weights, dict) or not all(
                isinstance(row, dict) and set(row) <= set(bias)
                and all(isinstance(w, int | float) for w in row.values())
                for row in weights.values()):
            raise ValueError(f"{source}: `weights` must map features to {{category: number}}")
        return cls(weights={str(f): {str(c): float(w) for c, w in row.items()}
                            for f, row in weights.items()},
                   bias={str(c): float(b) for c, b in bias.items()},
                   trained_on=int(data.get("trained_on", 0)), ngram=_ngram(data, source))


# ----- training -------------------------------------------------------------------------------

def train(
    rows: Iterable[tuple[str, bool]],
    *,
    c: float = DEFAULT_C,
    urgent_weight: float = 3.0,
    min_count: int = DEFAULT_MIN_COUNT,
    threshold: float = DEFAULT_THRESHOLD,
    overrule_below: float = DEFAULT_OVERRULE_BELOW,
    ngram: int = DEFAULT_NGRAM,
) -> UrgencyModel:
    """Fit the urgency model to (normalised text, is urgent) pairs: an l2-regularised logistic
    regression on idf-weighted, length-scaled features, solved by scikit-learn.

    ``urgent_weight`` counts each urgent example that many times: they are about one in eight,
    and a missed one costs more than a false alarm. The same rows give the same model.
    """
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise RuntimeError("training the urgency model needs scikit-learn: "
                           "pip install 'huying[train]'") from None
    data = list(rows)
    if not any(urgent for _, urgent in data) or all(urgent for _, urgent in data):
        raise ValueError("training needs both urgent and non-urgent examples")
    # Each feature counts its idf (smoothed: as if one more message held every feature), and
    # each message is scaled to length 1: what UrgencyModel.probability computes again.
    vectorizer = TfidfVectorizer(analyzer=lambda text: features(text, ngram), binary=True,
                                 min_df=min_count)
    matrix = vectorizer.fit_transform([text for text, _ in data])
    fit = LogisticRegression(C=c, class_weight={0: 1.0, 1: urgent_weight}, max_iter=5000)
    fit.fit(matrix, [int(urgent) for _, urgent in data])
    vocabulary = vectorizer.get_feature_names_out()
    weights = {str(f): float(w) for f, w in zip(vocabulary, fit.coef_[0], strict=True)}
    idf = {str(f): float(x) for f, x in zip(vocabulary, vectorizer.idf_, strict=True)}
    return UrgencyModel(weights=weights, bias=float(fit.intercept_[0]), threshold=threshold,
                        trained_on=len(data), ngram=ngram, idf=idf,
                        overrule_below=overrule_below)


def train_categories(
    rows: Iterable[tuple[str, str]],
    *,
    epochs: int = 15,
    rate: float = 0.2,
    l2: float = 1e-4,
    seed: int = 0,
    ngram: int = 2,
) -> CategoryModel:
    """Fit the category model to (normalised text, category id) pairs by stochastic gradient
    descent on the softmax loss. The same rows and seed give the same model.

    Pairs rather than triples by default: in cross-validation on the training sets triples
    added nothing to the category but size.
    """
    data = [(features(text, ngram), cid) for text, cid in rows]
    categories = sorted({cid for _, cid in data})
    if len(categories) < 2:
        raise ValueError("training needs examples of at least two categories")
    shuffler = random.Random(seed)
    weights: dict[str, dict[str, float]] = {}
    bias = dict.fromkeys(categories, 0.0)
    for _ in range(epochs):
        shuffler.shuffle(data)
        for feats, label in data:
            z = dict(bias)
            for f in feats:
                for cid, w in weights.get(f, {}).items():
                    z[cid] += w
            top = max(z.values())
            exp = {cid: math.exp(v - top) for cid, v in z.items()}
            total = sum(exp.values())
            for cid in categories:
                gradient = exp[cid] / total - (1.0 if cid == label else 0.0)
                if abs(gradient) < 1e-3:
                    continue  # nothing to learn here; skipping it makes training fast
                bias[cid] -= rate * gradient
                for f in feats:
                    row = weights.setdefault(f, {})
                    w = row.get(cid, 0.0)
                    row[cid] = w - rate * (gradient + l2 * w)
    return CategoryModel(weights=weights, bias=bias, trained_on=len(data), ngram=ngram)


# ----- stored form ----------------------------------------------------------------------------

_PER_FEATURE: Final = ("weights", "idf")
"""The maps of a stored model written one feature a line."""


def _dump(data: dict[str, Any]) -> str:
    """JSON with one feature's weights per line, so that a retrained model diffs readably."""
    maps = {key: data.pop(key) for key in _PER_FEATURE if key in data}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))[:-1]
    for key, values in maps.items():
        lines = [f"{json.dumps(f, ensure_ascii=False)}:{json.dumps(w, separators=(',', ':'))}"
                 for f, w in values.items()]
        text += f',"{key}":{{\n' + ",\n".join(lines) + "\n}"
    return text + "}\n"


def _read(text: str, source: str, formats: tuple[str, ...], option: str) -> dict[str, Any]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") not in formats:
        raise ValueError(f"{source}: not a {formats[-1]} file; train one with "
                         f"`huying classify {option} FILE...`")
    return data


def _numbers(value: object, source: str, key: str) -> dict[str, float]:
    """Read a map of features to numbers."""
    if not isinstance(value, dict) or not all(
            isinstance(w, int | float) for w in value.values()):
        raise ValueError(f"{source}: `{key}` must map features to numbers")
    return {str(f): float(w) for f, w in value.items()}


def _ngram(data: Mapping[str, Any], source: str) -> int:
    ngram = data.get("ngram", 2)
    if not isinstance(ngram, int) or not 1 <= ngram <= 4:
        raise ValueError(f"{source}: `ngram` must be 1 to 4")
    return ngram
