"""How fast the classifier starts and classifies: start-up cold and warm, throughput, p99.

    .venv/bin/python bench/classify.py [--rounds 20]

Prints the start-up time of a fresh process (imports, KeywordSet.defaults(), the first
Classifier construction and its warm-up) twice: with an empty jieba dictionary cache (the
first start on a new machine) and with the cache jieba wrote on that first start. Then, over
every labelled message in tests/data (each classified ``--rounds`` times): messages per second
and the time of one message, p50, p99 and max. Classification must not be the slow part of
intake: a request costs a database transaction and at least one Telegram call, each in the
milliseconds or more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Run in a fresh interpreter so imports, the YAML, jieba's dictionary and pypinyin are cold.
_START_UP = """
import json, time
started = time.perf_counter()
from routing.classifier import Classifier, KeywordSet
from routing.learnt import CategoryModel, UrgencyModel
from routing.taxonomy import Taxonomy
imported = time.perf_counter()
keywords = KeywordSet.defaults()
loaded = time.perf_counter()
models = {"urgency_model": UrgencyModel.default(), "category_model": CategoryModel.default()}
learnt = time.perf_counter()
classifier = Classifier(Taxonomy(), keywords, **models)
built = time.perf_counter()
classifier.warm_up()
warm = time.perf_counter()
print(json.dumps({"import": imported - started, "keywords": loaded - imported,
                  "models": learnt - loaded, "construct": built - learnt,
                  "warm_up": warm - built, "total": warm - started}))
"""


def start_up(cache_dir: str) -> dict[str, float]:
    """Time one start in a child process whose temporary directory (jieba's cache) is given."""
    env = {**os.environ, "TMPDIR": cache_dir, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _START_UP],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def texts() -> list[str]:
    """Every labelled message of tests/data."""
    found: list[str] = []
    for path in sorted((ROOT / "tests/data").glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            found += [json.loads(line)["text"] for line in fh if line.strip()]
    return found


def throughput(rounds: int) -> tuple[int, float, list[float]]:
    """Classify every message ``rounds`` times; return the count, seconds and per-call times."""
    from routing.classifier import Classifier, KeywordSet
    from routing.learnt import CategoryModel, UrgencyModel
    from routing.taxonomy import Taxonomy

    classifier = Classifier(Taxonomy(), KeywordSet.defaults(),
                            urgency_model=UrgencyModel.default(),
                            category_model=CategoryModel.default())
    classifier.warm_up()
    messages = texts()
    times: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        for message in messages:
            t0 = time.perf_counter()
            classifier.classify(message)
            times.append(time.perf_counter() - t0)
    return len(messages), time.perf_counter() - started, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the data set")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jieba-cache-") as cache_dir:
        cold = start_up(cache_dir)
        warm = start_up(cache_dir)
    print("start-up in a fresh process (import, keywords, models, first Classifier, warm-up):")
    for label, figures in (("cold, no jieba cache", cold), ("jieba cache present", warm)):
        print(
            f"  {label:<22} {figures['total']:6.2f} s   import {figures['import']:.2f}"
            f"  keywords {figures['keywords']:.2f}  models {figures['models']:.2f}"
            f"  construct {figures['construct']:.2f}"
            f"  warm-up {figures['warm_up']:.2f}"
        )

    count, seconds, times = throughput(args.rounds)
    times.sort()
    ms = [t * 1000 for t in times]
    print(f"throughput over {count} labelled messages x {args.rounds} rounds:")
    print(f"  {len(times) / seconds:8.0f} messages/s")
    print(
        f"  per message  mean {statistics.fmean(ms):.3f} ms   p50 {ms[len(ms) // 2]:.3f} ms"
        f"   p99 {ms[int(len(ms) * 0.99)]:.3f} ms   max {ms[-1]:.3f} ms"
    )


if __name__ == "__main__":
    main()
