"""How well a classifier does on a labelled set: accuracy, macro-F1, confusion, urgent recall.

A labelled set is JSON lines, one request per line::

    {"text": "楼道里一股臭鸡蛋味", "category": "utilities", "urgency": "urgent", "hard": true}

``hard`` is optional (indirect wording, misleading keywords, typos, dialect, two problems in
one message). ``huying classify --eval FILE`` prints :meth:`Report.render` of such a file.

Everything here except :func:`load_rows` and :func:`run_eval` is a pure function of its
arguments: :func:`score` compares gold labels with predictions, :func:`evaluate` only adds the
classifier calls.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from routing.taxonomy import Taxonomy, Urgency

__all__ = [
    "CategoryScore",
    "Mistake",
    "Prediction",
    "Report",
    "Row",
    "evaluate",
    "load_rows",
    "parse_rows",
    "run_eval",
    "score",
]

URGENT: str = Urgency.URGENT.value


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled request."""

    text: str
    category: str
    urgency: str
    hard: bool = False


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a classifier said about one row (the fields of a Classification we score)."""

    category: str
    urgency: str
    confidence: float = 0.0
    needs_review: bool = False


class _Verdict(Protocol):
    @property
    def category(self) -> str: ...

    @property
    def urgency(self) -> object: ...

    @property
    def confidence(self) -> float: ...


class _Classifier(Protocol):
    def classify(self, text: str) -> _Verdict: ...


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """Precision, recall and F1 of one category; None where nothing was there to divide by."""

    id: str
    zh: str
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None

    @property
    def f1(self) -> float:
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Mistake:
    """One row the classifier got wrong, in category or urgency."""

    row: Row
    predicted: Prediction

    @property
    def missed_urgent(self) -> bool:
        return self.row.urgency == URGENT and self.predicted.urgency != URGENT

    @property
    def wrong_category(self) -> bool:
        return self.row.category != self.predicted.category


@dataclass(frozen=True)
class Report:
    """The scores of one classifier on one labelled set."""

    total: int
    labels: tuple[str, ...]
    names: dict[str, str]
    per_category: tuple[CategoryScore, ...]
    confusion: tuple[tuple[int, ...], ...]
    """confusion[i][j]: rows labelled labels[i] that were classified as labels[j]."""
    category_correct: int
    urgency_correct: int
    urgent_support: int
    urgent_flagged: int
    urgent_caught: int
    review_count: int = 0
    review_correct: int = 0
    hard_total: int = 0
    hard_correct: int = 0
    mistakes: tuple[Mistake, ...] = field(default=())

    @property
    def accuracy(self) -> float:
        return self.category_correct / self.total if self.total else 0.0

    @property
    def urgency_accuracy(self) -> float:
        return self.urgency_correct / self.total if self.total else 0.0

    @property
    def macro_f1(self) -> float:
        """Mean F1 over every category that is labelled or predicted at least once."""
        scored = [c for c in self.per_category if c.support or c.predicted]
        return sum(c.f1 for c in scored) / len(scored) if scored else 0.0

    @property
    def urgent_recall(self) -> float | None:
        return self.urgent_caught / self.urgent_support if self.urgent_support else None

    @property
    def urgent_precision(self) -> float | None:
        return self.urgent_caught / self.urgent_flagged if self.urgent_flagged else None

    @property
    def hard_accuracy(self) -> float | None:
        return self.hard_correct / self.hard_total if self.hard_total else None

    @property
    def confident_accuracy(self) -> float | None:
        """Category accuracy on the rows not sent to 待确认."""
        sure = self.total - self.review_count
        return (self.category_correct - self.review_correct) / sure if sure else None

    def render(self, max_mistakes: int = 30) -> str:
        """Return the report as a plain-text table, Chinese names next to the ids."""
        out: list[str] = []
        out.append(f"rows {self.total}   hard {self.hard_total}")
        out.append(
            f"category  accuracy {_pct(self.accuracy)}   macro-F1 {self.macro_f1:.3f}"
            f"   hard rows {_pct(self.hard_accuracy)}"
        )
        out.append(
            f"urgent    recall {_pct(self.urgent_recall)} ({self.urgent_caught}/"
            f"{self.urgent_support})   precision {_pct(self.urgent_precision)} "
            f"({self.urgent_caught}/{self.urgent_flagged})   urgency accuracy "
            f"{_pct(self.urgency_accuracy)}"
        )
        if self.review_count:
            out.append(
                f"待确认    {self.review_count} rows ({_pct(self.review_count / self.total)})"
                f"   accuracy of the rest {_pct(self.confident_accuracy)}"
            )
        out.append("")
        width = max((_width(f"{c.id} {c.zh}") for c in self.per_category), default=10)
        out.append(
            _pad("#  category", width + 3) + "  support  predicted  precision  recall     F1"
        )
        for i, c in enumerate(self.per_category, 1):
            out.append(
                _pad(f"{i:<2} {c.id} {c.zh}", width + 3)
                + f"  {c.support:>7}  {c.predicted:>9}  {_pct(c.precision):>9}"
                f"  {_pct(c.recall):>6}  {c.f1:5.3f}"
            )
        out.append("")
        out.append("confusion (rows: labelled, columns: classified as, numbered as above)")
        n = len(self.labels)
        cell = max(3, len(str(max((max(r) for r in self.confusion), default=0))) + 1)
        out.append(" " * 4 + "".join(f"{j:>{cell}}" for j in range(1, n + 1)))
        for i, row in enumerate(self.confusion, 1):
            cells = "".join(
                f"{(v if v else '.'):>{cell}}" if i != j else f"{v:>{cell}}"
                for j, v in enumerate(row, 1)
            )
            out.append(f"{i:>3} {cells}")
        if self.mistakes and max_mistakes > 0:
            out.append("")
            shown = self.mistakes[:max_mistakes]
            out.append(f"mistakes ({len(self.mistakes)}, first {len(shown)}; missed urgent first)")
            for m in shown:
                out.append(_mistake_line(m, self.names))
        return "\n".join(out)


def parse_rows(lines: Iterable[str], source: str = "<rows>") -> list[Row]:
    """Read labelled rows from JSON lines; raise ValueError naming the line of a bad row."""
    rows: list[Row] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object")
        text, category, urgency = data.get("text"), data.get("category"), data.get("urgency")
        if not isinstance(text, str) or not isinstance(category, str) or not category:
            raise ValueError(f"{where}: needs a string 'text' and a non-empty 'category'")
        if urgency not in {u.value for u in Urgency}:
            raise ValueError(f"{where}: urgency must be one of urgent, normal, low")
        hard = data.get("hard", False)
        if not isinstance(hard, bool):
            raise ValueError(f"{where}: 'hard' must be true or false")
        rows.append(Row(text, category, str(urgency), hard))
    return rows


def load_rows(path: Path) -> list[Row]:
    """Read a labelled JSON-lines file."""
    with path.open(encoding="utf-8") as fh:
        return parse_rows(fh, str(path))


def score(
    rows: Sequence[Row], predictions: Sequence[Prediction], taxonomy: Taxonomy | None = None
) -> Report:
    """Compare gold rows with predictions, position by position."""
    if len(rows) != len(predictions):
        raise ValueError(f"{len(rows)} rows but {len(predictions)} predictions")
    taxonomy = taxonomy or Taxonomy()
    labels = list(taxonomy.ids)
    for cid in [r.category for r in rows] + [p.category for p in predictions]:
        if cid not in labels:
            labels.append(cid)
    index = {cid: i for i, cid in enumerate(labels)}
    names = {cid: (taxonomy.zh(cid) if cid in taxonomy else "?") for cid in labels}
    matrix = [[0] * len(labels) for _ in labels]
    for row, pred in zip(rows, predictions, strict=True):
        matrix[index[row.category]][index[pred.category]] += 1
    support = Counter(r.category for r in rows)
    predicted = Counter(p.category for p in predictions)
    per_category = tuple(
        CategoryScore(cid, names[cid], support[cid], predicted[cid], matrix[i][i])
        for i, cid in enumerate(labels)
    )
    pairs = list(zip(rows, predictions, strict=True))
    right = [r.category == p.category for r, p in pairs]
    mistakes = [
        Mistake(r, p) for r, p in pairs if r.category != p.category or r.urgency != p.urgency
    ]
    # Missed urgent rows first, then wrong categories, then the rest; stable within each.
    mistakes.sort(key=lambda m: (not m.missed_urgent, not m.wrong_category))
    return Report(
        total=len(rows),
        labels=tuple(labels),
        names=names,
        per_category=per_category,
        confusion=tuple(tuple(r) for r in matrix),
        category_correct=sum(right),
        urgency_correct=sum(r.urgency == p.urgency for r, p in pairs),
        urgent_support=sum(r.urgency == URGENT for r in rows),
        urgent_flagged=sum(p.urgency == URGENT for p in predictions),
        urgent_caught=sum(r.urgency == URGENT and p.urgency == URGENT for r, p in pairs),
        review_count=sum(p.needs_review for p in predictions),
        review_correct=sum(ok and p.needs_review for ok, (_, p) in zip(right, pairs, strict=True)),
        hard_total=sum(r.hard for r in rows),
        hard_correct=sum(ok and r.hard for ok, (r, _) in zip(right, pairs, strict=True)),
        mistakes=tuple(mistakes),
    )


def predict(classifier: _Classifier, text: str) -> Prediction:
    """Run the classifier on one text and keep what the report scores."""
    verdict = classifier.classify(text)
    urgency = verdict.urgency
    return Prediction(
        category=verdict.category,
        urgency=str(getattr(urgency, "value", urgency)),
        confidence=float(verdict.confidence),
        needs_review=bool(getattr(verdict, "needs_review", False)),
    )


def evaluate(
    classifier: _Classifier, rows: Sequence[Row], taxonomy: Taxonomy | None = None
) -> Report:
    """Classify every row's text and score the verdicts against the labels."""
    if taxonomy is None:
        taxonomy = getattr(classifier, "taxonomy", None)
    return score(rows, [predict(classifier, r.text) for r in rows], taxonomy)


def run_eval(classifier: _Classifier, path: Path, out: TextIO, err: TextIO) -> int:
    """`huying classify --eval FILE`: print the report; 1 when the file cannot be read."""
    try:
        rows = load_rows(path)
    except (OSError, ValueError) as error:
        print(f"{path}: {error}" if isinstance(error, OSError) else str(error), file=err)
        return 1
    if not rows:
        print(f"{path}: no labelled rows", file=err)
        return 1
    print(evaluate(classifier, rows).render(), file=out)
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _width(text: str) -> int:
    """Terminal columns of text: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _mistake_line(m: Mistake, names: dict[str, str]) -> str:
    row, pred = m.row, m.predicted
    mark = "!" if m.missed_urgent else ("c" if m.wrong_category else "u")
    want = f"{row.category}/{row.urgency}"
    got = f"{pred.category}/{pred.urgency}"
    review = " 待确认" if pred.needs_review else ""
    hard = " hard" if row.hard else ""
    return (
        f"{mark} {row.text}\n    want {want} ({names.get(row.category, '?')})"
        f"  got {got} ({names.get(pred.category, '?')}) conf {pred.confidence:.2f}"
        f"{review}{hard}"
    )
