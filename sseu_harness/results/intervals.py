"""The report's 95% intervals: the basic bootstrap interval on every record, and a warning where it is not to be trusted.

Why not the percentile interval: on small sets a bootstrap replicate repeats
clips, and mAP over fewer distinct positives is higher, so the replicates sit
above the point (demo chance AT: point 21.26, percentile interval [20.46,
34.72], 5 % of replicates below the point); the sample mAP is itself biased
upward by about as much against the population's. The basic interval
(Davison & Hinkley 1997, eq. 5.6) reflects the percentiles about the point,
[2 point - q_high, 2 point - q_low], which subtracts the bias the bootstrap
sees instead of adding it. On simulations with a known truth
(benchmarks/interval_coverage.py) it covers the population value far more
often than the percentile and BCa intervals, and equals them on WER.

The point always lies inside: where fewer than 2.5 % of the replicates fall
on one side of it (a degenerate or very skewed bootstrap distribution), the
interval is extended to the point.

No bootstrap method reaches 90 % coverage on the smallest slices (mAP with a
class of 3 positives), so an interval over a slice whose rarest class (scene
for mACC, event class for mAP) has fewer than MIN_CLIPS_PER_CLASS clips
carries a `ci_warning`, marked with "*" in the tables.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sseu_harness.results.bootstrap import Draws, hierarchical_mean
from sseu_harness.results.records import Record

INTERVAL_METHOD = "basic"  # recorded in every summary's meta.bootstrap
MIN_CLIPS_PER_CLASS = 10  # below this, simulated coverage falls under 90 % (benchmarks/interval_coverage.py)


def basic_interval(replicates: np.ndarray, point: float, level: float = 0.95) -> tuple[float, float]:
    """[2 point - q_high, 2 point - q_low] of the replicates' quantiles, extended to contain the point."""
    low, high = np.quantile(np.asarray(replicates, dtype=np.float64), [(1 - level) / 2, (1 + level) / 2])
    return float(min(2 * point - high, point)), float(max(2 * point - low, point))


def interval_warning(smallest_class: int | None) -> str | None:
    """Why an interval over a slice whose rarest class has `smallest_class` clips is unreliable, or None."""
    if smallest_class is None or smallest_class >= MIN_CLIPS_PER_CLASS:
        return None
    return (f"its rarest class has {smallest_class} clip(s), fewer than {MIN_CLIPS_PER_CLASS}: "
            "the interval may cover the true value less than 90% of the time")


def attach_intervals(records: list[Record], replicates: dict[str, np.ndarray], draws: Draws,
                     smallest: dict[str, int | None]) -> list[Record]:
    """The records, each whose replicates are known with ``ci_low`` / ``ci_high`` (and ``ci_warning`` on small slices).

    ``replicates`` maps a case id to its (B, runs) metric replicates and
    ``smallest`` to the clips of its rarest class (`CaseClips.smallest_class`);
    an average's replicates are the mean of its cases' under the same draws,
    and it is as small as its smallest case.
    """
    by_slice = {r.slice: r for r in records if not r.is_average}
    return [_with_interval(record, by_slice, replicates, draws, smallest) for record in records]


def _with_interval(record: Record, by_slice: dict[tuple, Record], replicates: dict[str, np.ndarray], draws: Draws,
                   smallest: dict[str, int | None]) -> Record:
    if record.is_average:
        cases = [by_slice.get((record.model, record.task, snr, record.mode)) for snr in record.over]
    else:
        cases = [record]
    if any(c is None or c.case not in replicates for c in cases):
        return record
    per_run = np.mean([replicates[c.case] for c in cases], axis=0)
    low, high = basic_interval(hierarchical_mean(per_run, draws), record.value)
    sizes = [smallest.get(c.case) for c in cases]
    warning = interval_warning(None if None in sizes else min(sizes))
    return replace(record, ci_low=low, ci_high=high, ci_warning=warning or record.ci_warning)
