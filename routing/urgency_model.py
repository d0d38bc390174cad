"""A second opinion on urgency: logistic regression over the characters of a message.

The keyword cues (keywords.yaml, ``urgency.urgent``) catch the dangers someone thought to
list. Residents describe dangers in words nobody listed: a child outside the balcony railing,
a drunk smashing cars, an open lift shaft a child nearly fell into. Measured on messages that
neither had seen, the cues and this model each found about four in five urgent requests, and
mostly different ones, so the classifier calls a request urgent when either says so: missing
an urgent request is far worse than flagging one too many (taxonomy.md).

The model is data, like the keywords: ``routing/data/urgency_model.json`` is trained by
``huying classify --train-urgency FILE...`` from labelled JSON-lines files (the format of
``huying classify --eval``). A deployment may train its own from its own labelled requests and
name it in its organisation file (``urgency_model_file``).

Features are the characters and character pairs of the normalised text, as for the n-grams of
the category examples: they need no segmentation, and they survive typos and dialect better
than whole words. Addresses and numbers are left out (see `_ADDRESS`).
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
from typing import Any, Final

DEFAULT_THRESHOLD: Final = 0.5
"""Probability from which the model calls a message urgent."""

_FORMAT: Final = "huying-urgency-model/1"


# Addresses (3号楼, 2单元, 501) say where, not how bad: people in an emergency give theirs more
# often, so a model left to learn from them would call "2号楼单元门关不上" urgent.
_ADDRESS = re.compile(r"[0-9一二三四五六七八九十]+(?:号楼|号|栋|单元|层|楼|室|户)|[0-9]+")


def features(norm: str) -> set[str]:
    """The characters and adjacent character pairs of a normalised text, with addresses and
    numbers left out and spaces dropped."""
    chars = _ADDRESS.sub(" ", norm).replace(" ", "")
    return set(chars) | {chars[i : i + 2] for i in range(len(chars) - 1)}


@dataclass(frozen=True, slots=True)
class UrgencyModel:
    """Weights per feature and a bias; `probability` is the logistic of their sum."""

    weights: Mapping[str, float]
    bias: float
    threshold: float = DEFAULT_THRESHOLD
    trained_on: int = 0
    """How many labelled messages it learnt from (reported by --eval)."""

    def probability(self, norm: str) -> float:
        """How likely a normalised text is urgent, by this model."""
        weights = self.weights
        z = self.bias + sum(weights.get(f, 0.0) for f in features(norm))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def urgent(self, norm: str) -> tuple[bool, float]:
        probability = self.probability(norm)
        return probability >= self.threshold, probability

    # ----- stored form --------------------------------------------------------------------

    def to_json(self) -> str:
        weights = {f: round(w, 4) for f, w in sorted(self.weights.items()) if abs(w) >= 1e-3}
        return json.dumps({"format": _FORMAT, "bias": round(self.bias, 4),
                           "threshold": self.threshold, "trained_on": self.trained_on,
                           "weights": weights}, ensure_ascii=False, indent=0) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "urgency model") -> UrgencyModel:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: not JSON ({error})") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{source}: not a {_FORMAT} file; train one with "
                             "`huying classify --train-urgency FILE...`")
        weights = data.get("weights")
        if not isinstance(weights, dict) or not all(
                isinstance(w, int | float) for w in weights.values()):
            raise ValueError(f"{source}: `weights` must map features to numbers")
        return cls(weights={str(f): float(w) for f, w in weights.items()},
                   bias=float(data.get("bias", 0.0)),
                   threshold=float(data.get("threshold", DEFAULT_THRESHOLD)),
                   trained_on=int(data.get("trained_on", 0)))

    @classmethod
    def load(cls, path: Path) -> UrgencyModel:
        return cls.from_json(path.read_text(encoding="utf-8"), str(path))

    @classmethod
    def default(cls) -> UrgencyModel:
        """The model shipped in routing/data."""
        return _default()


def train(
    rows: Iterable[tuple[str, bool]],
    *,
    epochs: int = 40,
    rate: float = 0.3,
    l2: float = 1e-4,
    urgent_weight: float = 3.0,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
) -> UrgencyModel:
    """Fit the model to (normalised text, is urgent) pairs by stochastic gradient descent.

    ``urgent_weight`` counts each urgent example that many times: they are about one in eight,
    and a missed one costs more than a false alarm. The same rows and seed give the same
    model.
    """
    data = [(features(text), 1.0 if urgent else 0.0) for text, urgent in rows]
    if not any(label for _, label in data) or all(label for _, label in data):
        raise ValueError("training needs both urgent and non-urgent examples")
    shuffler = random.Random(seed)
    weights: dict[str, float] = {}
    bias = 0.0
    for _ in range(epochs):
        shuffler.shuffle(data)
        for feats, label in data:
            z = bias + sum(weights.get(f, 0.0) for f in feats)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            gradient = (p - label) * (urgent_weight if label else 1.0)
            bias -= rate * gradient
            for f in feats:
                w = weights.get(f, 0.0)
                weights[f] = w - rate * (gradient + l2 * w)
    return UrgencyModel(weights=weights, bias=bias, threshold=threshold, trained_on=len(data))


_cached: UrgencyModel | None = None


def _default() -> UrgencyModel:
    global _cached
    if _cached is None:
        text = resources.files("routing").joinpath("data/urgency_model.json").read_text(
            encoding="utf-8")
        _cached = UrgencyModel.from_json(text, "routing/data/urgency_model.json")
    return _cached
