"""Release gates: bounds on averages, and the regression gate against a baseline report.

Case-level bounds are checked where the case runs (the plugin's item); what
needs the whole session (averages, comparisons) is checked here, by the
plugin's controller and by `merge` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sseu_harness.results.bootstrap import CaseClips, Draws, hierarchical_mean, interval
from sseu_harness.results.compat import check_same_config
from sseu_harness.errors import ConfigError
from sseu_harness.report.reader import ReportDir
from sseu_harness.spec.tasks import TASK
from sseu_harness.results.thresholds import Bound

ALPHA = 0.05  # family-wise error rate of the regression gate


@dataclass(frozen=True)
class GateResult:
    name: str  # a test-like id, e.g. "bound::qwen2-audio-ASR-avg-independent"
    passed: bool
    message: str


def average_bounds(bounds: list[Bound], records: list[dict], selected: set[tuple[str, str, str]]) -> list[GateResult]:
    """Check each bound on avg / avg_mixed for every selected (model, task, mode) it covers.

    An average the selection left incomplete (``-k``, ``--sseu-snrs``, a shard)
    is refused, not skipped: the bound cannot be judged on part of its SNRs.
    """
    averages = {(r["model"], r["task"], r["snr"], r["mode"]): r for r in records if "case" not in r}
    results = []
    for bound in (b for b in bounds if b.on_average):
        for model, task, mode in sorted(selected):
            probe = {"model": model, "task": task, "snr": bound.snr, "mode": mode}
            if not bound.matches(probe):
                continue
            name = f"bound::{model}-{task}-{bound.snr}-{mode}"
            record = averages.get((model, task, bound.snr, mode))
            if record is None:
                results.append(GateResult(name, False, (
                    f"refused: the selection leaves {bound.snr} of {model}-{task}-{mode} incomplete, so the bound "
                    f"at {bound.where} cannot be judged; run all of its SNRs (no -k, --sseu-snrs or shard), or "
                    "apply the bound when merging the shards")))
                continue
            breach = bound.breach(record)
            results.append(GateResult(name, breach is None, breach or f"{record['value']:.2f} within the bound ({bound.where})"))
    return results


@dataclass(frozen=True)
class Comparison:
    case: str
    metric: str
    current: float
    baseline: float
    worsening: float  # positive = worse than the baseline, in points
    low: float  # 95% paired-bootstrap interval of the worsening
    high: float
    p_value: float  # one-sided: that it is not worse
    significant: bool  # after Holm's correction over all comparisons of the session
    failed: bool  # worse by more than the margin AND significant

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def check_baseline_matches(baseline: ReportDir, meta: dict) -> None:
    """Refuse a baseline scored under another configuration (see `compat`): its deltas would mean nothing."""
    check_same_config(meta, baseline.meta, f"baseline {baseline.path}",
                      "compare runs of the same data, mixing and scoring, or make a new baseline")


@dataclass(frozen=True)
class Paired:
    """One case against its baseline under the same bootstrap draws, before the session-wide correction."""

    case: str
    metric: str
    current: float
    baseline: float
    worsening: float
    low: float
    high: float
    p_value: float


def pair(case: str, now: CaseClips, before: CaseClips, draws: Draws) -> Paired:
    """The worsening (points; positive = worse) with its 95% interval and one-sided p-value.

    The replicates use the same clip (and run) draws on both sides. The
    p-value comes from the bootstrap standard error (normal approximation, so
    small p-values resolve with a thousand resamples).
    """
    if now.clips != before.clips:
        raise ConfigError(f"case {case} scored other clips in the baseline; compare runs of the same data")
    metric = TASK[now.task].metric
    sign = 1.0 if TASK[now.task].lower_is_better else -1.0
    worse = sign * (hierarchical_mean(now.per_run(now.weights(draws)), draws)
                    - hierarchical_mean(before.per_run(before.weights(draws)), draws))
    current, baseline = float(np.mean(now.point())), float(np.mean(before.point()))
    point = sign * (current - baseline)
    low, high = interval(worse)
    return Paired(case, metric, current, baseline, point, low, high, _p_not_worse(point, worse))


def judge(paired: list[Paired], margin: float, alpha: float = ALPHA) -> list[Comparison]:
    """Holm's step-down correction over the session's comparisons keeps the chance that any case
    flips on noise below ``alpha``; a case fails only when it is worse by more than ``margin``
    points AND significantly so."""
    significant = _holm([p.p_value for p in paired], alpha)
    return [Comparison(**p.__dict__, significant=sig, failed=sig and p.worsening > margin)
            for p, sig in zip(paired, significant)]


def _p_not_worse(point: float, replicates: np.ndarray) -> float:
    spread = float(np.std(replicates, ddof=1)) if replicates.size > 1 else 0.0
    if spread == 0.0:
        return 0.0 if point > 0 else 1.0
    return 0.5 * math.erfc(point / spread / math.sqrt(2))


def _holm(p_values: list[float], alpha: float) -> list[bool]:
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    out = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        out[index] = True
    return out


def regression_result(comparisons: list[Comparison], margin: float) -> GateResult:
    failed = [c for c in comparisons if c.failed]
    if not failed:
        return GateResult("regression", True, f"{len(comparisons)} cases compared, none worse by more than {margin:g} points and significant")
    lines = [f"{c.case}: {c.metric} {c.baseline:.2f} -> {c.current:.2f}, worse by {c.worsening:.2f} "
             f"(95% CI {c.low:.2f} .. {c.high:.2f}, p = {c.p_value:.2g}) > margin {margin:g}" for c in failed]
    return GateResult("regression", False, f"{len(failed)} of {len(comparisons)} cases regressed:\n" + "\n".join(lines))
