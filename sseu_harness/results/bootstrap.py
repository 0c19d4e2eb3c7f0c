"""Bootstrap over clips (and runs): confidence intervals and paired comparisons.

A replicate draws the benchmark's clips with replacement, once, and applies
the same draw to every case, so a case's replicate is paired with the same
case of a baseline run and with the other SNRs of its average. With several
runs a replicate also draws runs with replacement (hierarchical bootstrap)
and averages the metric over the drawn runs. A replicate is represented by
its clip multiplicities (weights), so the metrics are computed exactly as on
a resampled slice (each task's resampled metric, `scoring/task_metrics.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.scoring.task_metrics import TASK_METRIC

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
CHUNK = 128  # replicates computed at once: bounds the working memory per case
_RUN_STREAM = 1  # run draws: their own random stream, apart from the clip weights


@dataclass(frozen=True)
class Draws:
    """Clip weights (B, n_universe) of B replicates; run draws come from `run_choice`."""

    universe: dict[str, int]  # clip id -> column
    weights: np.ndarray
    seed: int

    @property
    def resamples(self) -> int:
        return self.weights.shape[0]

    def run_choice(self, runs: int) -> np.ndarray:
        """(B, runs) run indices, drawn with replacement from a side's own `runs`.

        One stream per run count: cases with the same count share their run
        draws (so a comparison of equal counts is paired on runs), and a side
        with 3 runs draws all 3 evenly whatever the other side has.
        """
        return np.random.default_rng([self.seed, _RUN_STREAM, runs]).integers(0, runs, size=(self.resamples, runs))


def draw(clip_ids: list[str], resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Draws:
    universe = {clip: k for k, clip in enumerate(sorted(set(clip_ids)))}
    rng = np.random.default_rng(seed)
    n = len(universe)
    # counts as uint16: a quarter of the memory of float64 for the largest array of a run
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.uint16) if n else np.zeros((resamples, 0), np.uint16)
    return Draws(universe, weights, seed)


@dataclass(frozen=True)
class CaseClips:
    """The per-clip figures of one case over its runs, from predictions.jsonl rows."""

    task: str
    clips: list[str]
    runs: int
    stats: dict[str, np.ndarray]

    @classmethod
    def from_rows(cls, task: str, rows: list[ClipRow]) -> "CaseClips":
        clips = sorted({r.item for r in rows})
        run_ids = sorted({r.run for r in rows})
        col = {c: k for k, c in enumerate(clips)}
        runs = len(run_ids)
        if len(rows) != runs * len(clips):
            raise ConfigError(f"predictions of a {task} case hold {len(rows)} rows for {runs} runs x {len(clips)} clips")
        pos = {r: k for k, r in enumerate(run_ids)}
        stats = TASK_METRIC[task].clip_stats(rows, clips, col, pos, runs)
        return cls(task, clips, runs, stats)

    def point(self) -> np.ndarray:
        """The metric of each run on the slice as it is (all weights 1)."""
        return self.per_run(np.ones((1, len(self.clips))))[0]

    def per_run(self, weights: np.ndarray) -> np.ndarray:
        """The metric (percent) for each replicate and run: shape (B, runs); computed in chunks of replicates."""
        return np.concatenate([self._per_run(weights[start : start + CHUNK].astype(np.float64))
                               for start in range(0, weights.shape[0], CHUNK)])

    def _per_run(self, weights: np.ndarray) -> np.ndarray:
        return TASK_METRIC[self.task].resampled(weights, self.stats)

    def values(self, draws: Draws) -> np.ndarray:
        """Per-replicate value of the case (mean over the replicate's drawn runs): shape (B,)."""
        return hierarchical_mean(self.per_run(self.weights(draws)), draws)

    def smallest_class(self) -> int | None:
        """Clips of the rarest class the metric averages over (scene for mACC, event class with a positive for
        mAP); None for WER, which has no classes. Few clips there make the interval unreliable (`intervals.py`)."""
        return TASK_METRIC[self.task].smallest_class(self.stats)

    def weights(self, draws: Draws) -> np.ndarray:
        try:
            return draws.weights[:, [draws.universe[c] for c in self.clips]]
        except KeyError as exc:
            raise ConfigError(f"clip {exc} is not among the clips the bootstrap drew from") from None


def hierarchical_mean(per_run: np.ndarray, draws: Draws) -> np.ndarray:
    runs = per_run.shape[1]
    if runs == 1:
        return per_run[:, 0]
    choice = draws.run_choice(runs)
    return np.take_along_axis(per_run, choice, axis=1).mean(axis=1)


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
