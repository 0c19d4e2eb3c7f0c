"""All release gates, judged here and nowhere else: by the plugin and by `sseu merge` alike.

- Case gates (`case_breaches`): failed model calls, unparsable answers and bounds on a case's
  SNR; the plugin judges them where the case runs, `merge` on the joined records.
- Session gates: bounds on averages (`average_bounds`), the regression gate against a baseline
  report (`pair`, `judge`, `regression_result`) and the hearing gate (`HearingCheck`).
- `check_gates_config` refuses, before anything runs, gates that cannot be judged at all, and warns of a
  bound whose model is not in the session.

`thresholds.py` only reads the bounds file into `Bound` data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sseu_harness.errors import ConfigError
from sseu_harness.results.bootstrap import CaseClips, Draws, hierarchical_mean, interval
from sseu_harness.results.compat import check_same_config
from sseu_harness.results.records import Record
from sseu_harness.results.thresholds import AVERAGES, Bound
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.snr import parse_snr, tasks_at
from sseu_harness.spec.tasks import TASK

if TYPE_CHECKING:  # a baseline is read by report/reader.py; results never import the report
    from sseu_harness.report.reader import ReportDir

ALPHA = 0.05  # family-wise error rate of the regression gate
HEARING = "hearing"  # the hearing gate's name
HEARING_MIN_CLIPS = 5  # a case with fewer answered clips says too little
HEARING_WER_WARNING = 95.0  # percent, ASR at snr_pinf
CLASS_SCORES_PLACEHOLDER = "<class scores>"  # the raw answer of a class-score row (scoring/slices.py)


@dataclass(frozen=True)
class GateResult:
    name: str  # a test-like id, e.g. "bound::qwen2-audio-ASR-avg-independent"
    passed: bool
    message: str
    judged: bool = True  # False: there was nothing to judge (e.g. no answered clip): not failed, not passed

    @property
    def status(self) -> str:
        return gate_status(self.__dict__)


def gate_status(gate: dict) -> str:
    """How a gate (or its summary.json entry) reads in reports: passed, FAILED, or not judged."""
    if not gate["passed"]:
        return "FAILED"
    return "passed" if gate.get("judged", True) else "not judged"


def case_breaches(record: Record, max_error_rate: float, max_parse_failure_rate: float,
                  bounds: list[Bound]) -> list[str]:
    """Why a case fails (empty when it passes): its failed clips, then each case bound it breaks."""
    breaches = [_failure_breach(record, max_error_rate, max_parse_failure_rate)]
    breaches += [_bound_breach(bound, record) for bound in bounds if _matches(bound, record)]
    return [b for b in breaches if b]


def _failure_breach(record: Record, max_error_rate: float, max_parse_failure_rate: float) -> str | None:
    """Failed model calls and unparsable answers are gated apart."""
    clips = record.n * record.runs
    errors, failures = record.errors or 0, record.parse_failures
    if clips and errors / clips > max_error_rate:
        quoted = "; ".join(record.first_errors or [])
        return (f"{errors} of {clips} model calls failed ({errors / clips:.1%} > {max_error_rate:.1%}, "
                f"--sseu-max-error-rate); first errors: {quoted}")
    if clips and failures / clips > max_parse_failure_rate:
        return (f"{failures} of {clips} answers could not be parsed ({failures / clips:.1%} > "
                f"{max_parse_failure_rate:.1%}, --sseu-max-parse-failure-rate); see predictions.jsonl")
    return None


def _covers(bound: Bound, model: str, task: str, snr: str, mode: str) -> bool:
    """Whether the bound applies to this figure; a bound without ``snr`` covers every case SNR, no average."""
    return (
        task == bound.task
        and bound.model in (None, model)
        and bound.mode in (None, mode)
        and (snr == bound.snr if bound.snr else snr not in AVERAGES)
    )


def _matches(bound: Bound, record: Record) -> bool:
    return _covers(bound, *record.slice)


def _bound_breach(bound: Bound, record: Record) -> str | None:
    """The failure message when the record's value is on the wrong side of the limit."""
    value = record.value
    lower = TASK[bound.task].lower_is_better
    if (value > bound.limit) if lower else (value < bound.limit):
        op = "<=" if lower else ">="
        case = "-".join(record.slice)
        return f"{case}: {bound.metric} = {value:.2f}, bound {op} {bound.limit:g} ({bound.where})"
    return None


def case_bound_results(bounds: list[Bound], case_records: list[Record]) -> list[GateResult]:
    """Breaches of bounds on single cases as gate entries (`merge`: the cases ran elsewhere)."""
    return [GateResult(f"bound::{r.case}", False, _bound_breach(b, r)) for b in bounds if not b.on_average
            for r in case_records if _matches(b, r) and _bound_breach(b, r)]


def average_bounds(bounds: list[Bound], records: list[Record], selected: set[tuple[str, str, str]]) -> list[GateResult]:
    """Check each bound on avg / avg_mixed for every selected (model, task, mode) it covers.

    An average the selection left incomplete (``-k``, ``--sseu-snrs``, a shard)
    is refused, not skipped: the bound cannot be judged on part of its SNRs.
    """
    averages = {r.slice: r for r in records if r.is_average}
    results = []
    for bound in (b for b in bounds if b.on_average):
        for model, task, mode in sorted(selected):
            if not _covers(bound, model, task, bound.snr, mode):
                continue
            name = f"bound::{model}-{task}-{bound.snr}-{mode}"
            record = averages.get((model, task, bound.snr, mode))
            if record is None:
                results.append(GateResult(name, False, (
                    f"refused: the selection leaves {bound.snr} of {model}-{task}-{mode} incomplete, so the bound "
                    f"at {bound.where} cannot be judged; run all of its SNRs (no -k, --sseu-snrs or shard), or "
                    "apply the bound when merging the shards")))
                continue
            breach = _bound_breach(bound, record)
            results.append(GateResult(name, breach is None, breach or f"{record.value:.2f} within the bound ({bound.where})"))
    return results


def check_gates_config(bounds: list[Bound], baseline: ReportDir | None, available_snrs: list[str],
                       meta: dict, sharded: bool, case_ids: set[str] = frozenset()) -> list[str]:
    """Refuse, before any case runs or any report is joined, gates that cannot be judged or would compare
    nothing; `case_ids`: the cases the session (or the joined reports) may hold. Returns a warning for each
    bound whose model is none of `meta`'s models: a typo there would leave the bound checking nothing."""
    for bound in bounds:
        if bound.on_average and sharded:
            raise ConfigError(f"{bound.where}: a bound on {bound.snr} cannot be judged on one shard; "
                              "apply it with `sseu merge --thresholds` on the joined reports")
        if bound.snr and not bound.on_average:
            if bound.snr not in available_snrs:
                raise ConfigError(f"{bound.where}: {bound.snr} is not an SNR of this data set "
                                  f"({', '.join(available_snrs)})")
            if bound.task not in tasks_at(parse_snr(bound.snr)):
                raise ConfigError(f"{bound.where}: {bound.task} has no case at {bound.snr}")
    if baseline is not None:
        _check_baseline_matches(baseline, meta)
        if not {r.case for r in baseline.case_records} & set(case_ids):
            raise ConfigError(f"baseline {baseline.path} holds none of the cases compared here, so the regression "
                              "gate would compare nothing; pass a baseline of the same models, tasks, SNRs and modes")
    models = sorted(meta.get("models") or {})
    return [f"{bound.where}: the bound names model {bound.model!r}, which is not among the models here "
            f"({', '.join(models)}), so it checks nothing; fix the name, or keep bounds of other models apart"
            for bound in bounds if bound.model is not None and bound.model not in models]


def _check_baseline_matches(baseline: ReportDir, meta: dict) -> None:
    """Refuse a baseline scored under another configuration (see `compat`): its deltas would mean nothing."""
    check_same_config(meta, baseline.meta, f"baseline {baseline.path}",
                      "compare runs of the same data, mixing and scoring, or make a new baseline")


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
    """Fails when a case regressed, or when no case was compared at all (a gate that checked nothing)."""
    if not comparisons:
        return GateResult("regression", False, "0 cases compared: the baseline holds none of this session's cases "
                          "(-k, --sseu-snrs or a shard left out the ones it has); select cases the baseline has")
    failed = [c for c in comparisons if c.failed]
    if not failed:
        return GateResult("regression", True, f"{len(comparisons)} cases compared, none worse by more than {margin:g} points and significant")
    lines = [f"{c.case}: {c.metric} {c.baseline:.2f} -> {c.current:.2f}, worse by {c.worsening:.2f} "
             f"(95% CI {c.low:.2f} .. {c.high:.2f}, p = {c.p_value:.2g}) > margin {margin:g}" for c in failed]
    return GateResult("regression", False, f"{len(failed)} of {len(comparisons)} cases regressed:\n" + "\n".join(lines))


# The hearing gate: does a model's answer depend on the audio at all?
#
# An integration that never passes the clip on (the audio under the wrong keyword, dropped for every
# sample) still gets fluent answers and plausible scores. Every clip of a case gets the same prompt, so a
# model that does not hear gives a deterministic model one answer for all of them. The gate fails a model
# when every case it checked (at least `HEARING_MIN_CLIPS` answered clips) got a single distinct answer:
# the same text, or identical class scores. Reference systems declare that they do not listen
# (`Adapter.listens`) and are not checked. A clean-speech ASR WER of `HEARING_WER_WARNING` % or more only
# warns: a real model can be that bad (the paper reports over 100 % for LTU-AS). It is computed from the
# per-clip prediction rows, so the plugin's controller and `sseu merge` judge the same way, on whatever
# cases are present (``-k``, shards).


@dataclass(frozen=True)
class CaseAnswers:
    model: str
    clips: int  # answered clips (failed calls left out), most over runs
    distinct: int  # distinct answers, most over the runs with at least HEARING_MIN_CLIPS answered clips

    @property
    def checked(self) -> bool:
        return self.clips >= HEARING_MIN_CLIPS and self.distinct > 0


@dataclass
class HearingCheck:
    """Fed case by case (`add`), judged once at the end (`result`)."""

    listens: dict[str, bool | None]  # model label -> declared; None = unknown (a report from an older harness)
    cases: dict[str, CaseAnswers] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: dict) -> "HearingCheck":
        return cls({label: spec.get("listens") for label, spec in (meta.get("models") or {}).items()})

    def add(self, case: str, model: str, rows: list[ClipRow]) -> None:
        if not self.listens.get(model):
            return
        runs: dict[int, list] = {}
        for row in rows:
            signature = answer_signature(row)
            if signature is not None:
                runs.setdefault(int(row.run), []).append(signature)
        clips = max((len(answers) for answers in runs.values()), default=0)
        distinct = max((len(set(answers)) for answers in runs.values() if len(answers) >= HEARING_MIN_CLIPS), default=0)
        self.cases[case] = CaseAnswers(model, clips, distinct)

    def result(self, records: list[Record]) -> tuple[GateResult, dict] | None:
        """(gate, figures), or None when no listening model has a case in this report."""
        models = sorted({c.model for c in self.cases.values()})
        if not models:
            return None
        figures: dict = {"min_clips": HEARING_MIN_CLIPS, "wer_warning": HEARING_WER_WARNING, "models": {},
                         "not_checked": sorted(m for m, listens in self.listens.items() if not listens)}
        failed, passed, warnings = [], [], []
        for model in models:
            cases = {case: c for case, c in sorted(self.cases.items()) if c.model == model}
            checked = [c for c in cases.values() if c.checked]
            single = [c for c in checked if c.distinct == 1]
            deaf = bool(checked) and len(single) == len(checked)
            wer = {r.mode: r.value for r in records
                   if not r.is_average and r.model == model and r.task == "ASR" and r.snr == "snr_pinf"}
            figures["models"][model] = {
                "cases": {case: {"clips": c.clips, "distinct_answers": c.distinct} for case, c in cases.items()},
                "cases_checked": len(checked), "single_answer_cases": len(single), "passed": not deaf,
                "asr_wer_snr_pinf": wer,
            }
            if deaf:
                failed.append(f"{model}: its answers do not depend on the audio: 1 distinct answer for "
                              f"{_clip_span(single)} clips in {len(single)} of {len(checked)} cases")
            elif checked:
                passed.append(f"{model}: answers vary with the audio in {len(checked) - len(single)} of "
                              f"{len(checked)} cases")
            else:
                passed.append(f"{model}: no case with at least {HEARING_MIN_CLIPS} answered clips, nothing to judge")
            for mode, value in sorted(wer.items()):
                if value >= HEARING_WER_WARNING:
                    warnings.append(f"{model}: ASR WER at snr_pinf is {value:.1f} % ({mode}), at least "
                                    f"{HEARING_WER_WARNING:g} %: check that the clip reaches the model")
        figures["warnings"] = warnings
        if failed:
            message = ("; ".join(failed) + ". Check that the clip reaches the model (e.g. the keyword the audio "
                       "is passed under), or turn this check off with --sseu-no-hearing-check")
        else:
            message = "; ".join(passed)
        if warnings:
            message += ". Warning: " + "; ".join(warnings)
        judged = any(f["cases_checked"] for f in figures["models"].values())
        return GateResult(HEARING, not failed, message, judged), figures


def answer_signature(row: ClipRow) -> tuple | None:
    """What makes two answers the same: the raw text, or the class scores; None for a failed call."""
    if row.is_error:
        return None
    if row.class_scores is not None:
        return ("scores", tuple(row.class_scores))
    if row.answer_sha256:  # an answer longer than the stored part
        return ("text-sha256", row.answer_sha256)
    if row.answer == CLASS_SCORES_PLACEHOLDER:
        return None  # a report written before rows kept the scores: cannot tell
    return ("text", row.answer)


def _clip_span(cases: list[CaseAnswers]) -> str:
    low, high = min(c.clips for c in cases), max(c.clips for c in cases)
    return str(low) if low == high else f"{low}-{high}"
