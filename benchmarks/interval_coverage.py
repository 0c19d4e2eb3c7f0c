"""Coverage of the report's 95% intervals on simulations with a known truth (issue 11.8). Prints; asserts nothing.

    python benchmarks/interval_coverage.py [--reps 200] [--resamples 1000] [--sizes 26,100,300]

For each scenario a population of 200,000 clips is drawn and its metric (WER,
mACC or mAP, computed with jiwer-equivalent sums, per-scene means and
scikit-learn's average precision) is the truth. Then, --reps times, a set of n
clips is drawn from the same generator and scored with the harness's own code
(`CaseClips`, `draw`), and three intervals are formed from the same
replicates: the percentile interval (the method before issue 11), BCa
(Efron's bias-corrected and accelerated interval, acceleration from a
leave-one-out jackknife; tried and not chosen) and the basic interval the
report now uses (`sseu_harness/results/intervals.py`). Printed per scenario and n:
the share of intervals that cover the truth (goal: >= 90 %), the share that
contain their own point (goal: 100 %), the mean width, the mean point minus
the truth (the estimator's own bias), the share of replicates below the
point (0.5 for an unbiased bootstrap), and the fewest clips of a class.
Then the basic interval's coverage by the slice's rarest class, which sets
the threshold of the tables' "*" warning (`MIN_CLIPS_PER_CLASS`).

Scenarios:
- AT chance: 18 classes with prevalences 3-30 %, scores unrelated to the
  labels (the demo's chance model); the truth is each class's prevalence.
- AT skilled: scores = 1.2 * label + normal noise (AP about 60-80 %).
- ASC: 6 scenes drawn with unequal frequencies, per-scene accuracy 15-90 %.
- ASR: 4-14 words per clip, each clip's error rate from Beta(2, 5), errors
  binomial (some clips far worse than others).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.metrics import average_precision_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from statistics import NormalDist  # noqa: E402

from sseu_harness.results.bootstrap import CHUNK, CaseClips, draw, hierarchical_mean, interval  # noqa: E402
from sseu_harness.results.intervals import MIN_CLIPS_PER_CLASS, basic_interval  # noqa: E402
from sseu_harness.scoring.rows import ClipRow  # noqa: E402
from sseu_harness.spec.taxonomy import load_taxonomy  # noqa: E402

EVENTS = load_taxonomy().event_ids
SCENES = load_taxonomy().scene_ids
POPULATION = 200_000


@dataclass(frozen=True)
class Scenario:
    name: str
    task: str
    rows: Callable[[np.random.Generator, int], list[ClipRow]]  # n clips as predictions.jsonl rows
    truth: Callable[[list[ClipRow]], float]


def _at_rows(rng, n, skilled: bool) -> list[ClipRow]:
    prevalence = np.linspace(0.03, 0.30, len(EVENTS))
    labels = rng.random((n, len(EVENTS))) < prevalence
    scores = 1.2 * labels + rng.standard_normal(labels.shape) if skilled else rng.random(labels.shape)
    return [ClipRow(task="AT", item=f"c{i:06d}", run=0, truth=[e for e, on in zip(EVENTS, row) if on], scores=list(s))
            for i, (row, s) in enumerate(zip(labels, scores))]


def _at_truth(rows) -> float:
    truth = np.array([[e in r.truth for e in EVENTS] for r in rows], dtype=int)
    scores = np.array([r.scores for r in rows])
    present = truth.sum(axis=0) > 0
    return 100 * float(np.mean([average_precision_score(truth[:, k], scores[:, k]) for k in np.flatnonzero(present)]))


def _asc_rows(rng, n) -> list[ClipRow]:
    frequency = np.array([6, 4, 4, 4, 4, 4]) / 26
    accuracy = np.array([0.15, 0.3, 0.45, 0.6, 0.75, 0.9])
    scene = rng.choice(len(SCENES), size=n, p=frequency)
    correct = rng.random(n) < accuracy[scene]
    return [ClipRow(task="ASC", item=f"c{i:06d}", run=0, truth=SCENES[s], correct=bool(c)) for i, (s, c) in enumerate(zip(scene, correct))]


def _asc_truth(rows) -> float:
    per_scene = {}
    for r in rows:
        per_scene.setdefault(r.truth, []).append(r.correct)
    return 100 * float(np.mean([np.mean(v) for v in per_scene.values()]))


def _asr_rows(rng, n) -> list[ClipRow]:
    words = rng.integers(4, 15, size=n)
    errors = rng.binomial(words, rng.beta(2, 5, size=n))
    return [ClipRow(task="ASR", item=f"c{i:06d}", run=0, errors=int(e), ref_words=int(w)) for i, (e, w) in enumerate(zip(errors, words))]


def _asr_truth(rows) -> float:
    return 100 * sum(r.errors for r in rows) / sum(r.ref_words for r in rows)


SCENARIOS = [
    Scenario("AT chance (mAP)", "AT", lambda rng, n: _at_rows(rng, n, False), _at_truth),
    Scenario("AT skilled (mAP)", "AT", lambda rng, n: _at_rows(rng, n, True), _at_truth),
    Scenario("ASC (mACC)", "ASC", _asc_rows, _asc_truth),
    Scenario("ASR (WER)", "ASR", _asr_rows, _asr_truth),
]


def bca_interval(values: np.ndarray, point: float, clips: CaseClips, level: float = 0.95) -> tuple[float, float]:
    """Efron's BCa: z0 from the share of replicates below the point, a from the leave-one-out jackknife."""
    normal, n = NormalDist(), len(clips.clips)
    jack = np.concatenate([clips._per_run(1.0 - np.eye(n)[start : start + CHUNK]).mean(axis=1)
                           for start in range(0, n, CHUNK)])
    d = jack.mean() - jack
    a = float(np.sum(d**3) / (6 * np.sum(d * d) ** 1.5)) if np.sum(d * d) > 0 else 0.0
    share = (np.sum(values < point) + 0.5 * np.sum(values == point)) / values.size
    z0 = normal.inv_cdf(min(max(share, 0.5 / values.size), 1 - 0.5 / values.size))
    levels = []
    for tail in ((1 - level) / 2, (1 + level) / 2):
        z = z0 + normal.inv_cdf(tail)
        levels.append(normal.cdf(z0 + z / (1 - a * z)) if 1 - a * z > 0 else float(tail > 0.5))
    low, high = np.quantile(values, levels)
    return float(low), float(high)


METHODS = ("percentile", "bca", "basic")


def measure(scenario: Scenario, n: int, reps: int, resamples: int, seed: int, by_smallest: dict) -> dict:
    rng = np.random.default_rng(seed)
    truth = scenario.truth(scenario.rows(np.random.default_rng(seed + 10_000), POPULATION))
    hits, inside, width = ({m: 0.0 for m in METHODS} for _ in range(3))
    below = bias = 0.0
    smallest = []
    for rep in range(reps):
        clips = CaseClips.from_rows(scenario.task, scenario.rows(rng, n))
        draws = draw(clips.clips, resamples=resamples, seed=rep)
        point = float(clips.point().mean())
        values = hierarchical_mean(clips.per_run(clips.weights(draws)), draws)
        below += float(np.mean(values < point))
        bias += point - truth
        small = clips.smallest_class()
        smallest.append(small if small is not None else n)
        for method, (low, high) in (("percentile", interval(values)), ("bca", bca_interval(values, point, clips)),
                                    ("basic", basic_interval(values, point))):
            hits[method] += low <= truth <= high
            inside[method] += low <= point <= high
            width[method] += high - low
            if method == "basic":
                bucket = by_smallest.setdefault((scenario.name, _bucket(smallest[-1])), [0, 0])
                bucket[0] += low <= truth <= high
                bucket[1] += 1
    return {"truth": truth, "below": below / reps, "bias": bias / reps, "smallest": int(np.median(smallest)),
            **{f"{m}_{k}": v[m] / reps for m in METHODS for k, v in (("coverage", hits), ("inside", inside), ("width", width))}}


BUCKETS = (0, 5, MIN_CLIPS_PER_CLASS, 20, 50)


def _bucket(smallest: int) -> str:
    low = max(b for b in BUCKETS if b <= smallest)
    higher = [b for b in BUCKETS if b > low]
    return f"{low}-{higher[0] - 1}" if higher else f">={low}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="simulated sets per scenario and size")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per set (the harness default)")
    parser.add_argument("--sizes", default="26,100,300", help="clips per set, comma list")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{args.reps} simulated sets per row, {args.resamples} resamples each; 95% intervals; goal: coverage >= 90 %, "
          "point inside 100 %; coverage of the population value")
    head = " | ".join(f"{m + ': cover':>17} {'inside':>6} {'width':>6}" for m in METHODS)
    print(f"{'scenario':<18} {'n':>4} {'truth':>6} {'bias':>6} {'below':>5} {'rarest':>6} | {head}")
    by_smallest: dict = {}
    for scenario in SCENARIOS:
        for n in sizes:
            started = time.perf_counter()
            m = measure(scenario, n, args.reps, args.resamples, args.seed, by_smallest)
            cells = " | ".join(f"{m[f'{k}_coverage']:>17.1%} {m[f'{k}_inside']:>6.0%} {m[f'{k}_width']:>6.2f}" for k in METHODS)
            print(f"{scenario.name:<18} {n:>4} {m['truth']:>6.2f} {m['bias']:>+6.2f} {m['below']:>5.2f} {m['smallest']:>6} | "
                  f"{cells}   ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\nbasic interval's coverage by the clips of the slice's rarest class (warning below {MIN_CLIPS_PER_CLASS}):")
    for (name, bucket), (hit, total) in sorted(by_smallest.items(), key=lambda kv: (kv[0][0], int(kv[0][1].strip(">=").split("-")[0]))):
        if name.startswith(("AT", "ASC")):
            print(f"  {name:<18} rarest class {bucket:>6} clips: {hit / total:6.1%} of {total}")


if __name__ == "__main__":
    main()
