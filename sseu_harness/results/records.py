"""Metric records: one per case, plus the averages the paper's tables show.

A `Record` travels from pytest-xdist workers to the controller inside test
reports as its JSON form (`to_json`: only JSON builtins; FACTS.md: a numpy
float there loses the report), and summary.json/.csv hold the same form.
``std`` is the sample standard deviation over runs (0 for one run); ``n`` is
the clips scored per run; ``parse_failures`` and ``refusals`` (answers that
declined, scored as empty predictions) are summed over runs.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Iterable

from sseu_harness.spec.cases import Case
from sseu_harness.spec.snr import MIXED_SNRS_DB, snr_label, sort_key
from sseu_harness.spec.tasks import MODES, TASKS

RECORD_FIELDS = ("model", "task", "snr", "mode", "metric", "value", "std", "ci_low", "ci_high", "runs", "n",
                 "parse_failures", "refusals", "errors")
MIXED_LABELS = tuple(snr_label(db) for db in MIXED_SNRS_DB)


def mean_std(values: list[float]) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else 0.0)


@dataclass(frozen=True)
class Record:
    """A case's figures over its runs, or an average over SNRs (`is_average`: it has ``over``, no ``case``).

    A field left None is absent from the JSON form (an average has no ``case``,
    an interval no ``ci_warning`` unless it is warned; a report of an older
    harness may lack ``refusals``), except ``clips_per_s``, which a case
    record holds as null when its time was zero.
    """

    model: str
    task: str
    snr: str
    mode: str
    metric: str
    value: float
    std: float
    runs: int
    run_values: list[float]
    n: int
    parse_failures: int
    refusals: int | None = None
    case: str | None = None
    seeds: list[int] | None = None
    seconds: float | None = None
    clips_per_s: float | None = None
    errors: int | None = None
    first_errors: list[str] | None = None
    from_store: int | None = None
    prompt_sha256: str | None = None
    prompt_set: str | None = None
    normalizer: str | None = None
    worker: str | None = None
    over: tuple[str, ...] | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_warning: str | None = None
    paper: dict | None = None  # the paper's figure beside this one (`sseu_harness/results/paper.py`)

    @property
    def is_average(self) -> bool:
        return self.case is None

    @property
    def slice(self) -> tuple[str, str, str, str]:
        """(model, task, snr, mode): where the record sits in the tables."""
        return self.model, self.task, self.snr, self.mode

    def to_json(self) -> dict:
        """The JSON form, keys in the order the record was always written."""
        order = _CASE_ORDER if not self.is_average else _AVERAGE_ORDER
        data = {}
        for name in order:
            value = getattr(self, name)
            if value is not None or (name == "clips_per_s" and self.seconds is not None):
                data[name] = list(value) if name == "over" else value
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Record":
        """A record from its JSON form (transport or summary.json); keys this harness does not know are dropped."""
        known = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        if known.get("over") is not None:
            known["over"] = tuple(known["over"])
        return cls(**known)


_FIELD_NAMES = frozenset(f.name for f in fields(Record))
_INTERVAL = ("ci_low", "ci_high", "ci_warning")
_CASE_ORDER = ("case", "model", "task", "snr", "mode", "metric", "value", "std", "runs", "run_values", "seeds", "n",
               "parse_failures", "refusals", "seconds", "clips_per_s", "errors", "first_errors", "from_store",
               "prompt_sha256", "prompt_set", "normalizer", "worker") + _INTERVAL + ("paper",)
_AVERAGE_ORDER = ("model", "task", "snr", "mode", "metric", "value", "std", "runs", "run_values", "n",
                  "parse_failures", "refusals", "errors", "over") + _INTERVAL + ("paper",)


def case_record(
    case: Case,
    run_values: list[float],
    seeds: list[int],
    n: int,
    parse_failures: int,
    seconds: float,
    refusals: int = 0,
    **scored,
) -> Record:
    """The one place a case's record is made; `scored`: what the session knows besides the figures
    (``errors``, ``first_errors``, ``from_store``, ``prompt_sha256``, ``prompt_set``, ``normalizer``)."""
    value, std = mean_std(run_values)
    return Record(
        case=case.id,
        model=case.model,
        task=case.task,
        snr=case.snr,
        mode=case.mode,
        metric=case.metric,
        value=float(value),
        std=float(std),
        runs=len(run_values),
        run_values=[float(v) for v in run_values],
        seeds=[int(s) for s in seeds],
        n=int(n),
        parse_failures=int(parse_failures),
        refusals=int(refusals),
        seconds=round(float(seconds), 4),
        clips_per_s=round(n * len(run_values) / seconds, 2) if seconds > 0 else None,
        **scored,
    )


def with_averages(records: Iterable[Record], task_snrs: dict[str, list[str]]) -> list[Record]:
    """Case records (sorted) followed by ``avg`` (all the task's SNRs) and ``avg_mixed`` (10..-10 dB).

    An average is emitted only when every SNR it spans has a record, so a
    narrowed selection never shows a partial mean under the paper's name.
    """
    cases = sorted(records, key=_order)
    by_slice: dict[tuple[str, str, str], dict[str, Record]] = defaultdict(dict)
    for rec in cases:
        by_slice[(rec.model, rec.task, rec.mode)][rec.snr] = rec
    averages = []
    for (model, task, mode), per_snr in by_slice.items():
        for name, labels in (("avg", task_snrs.get(task, [])), ("avg_mixed", MIXED_LABELS)):
            if not labels or not all(label in per_snr for label in labels):
                continue
            parts = [per_snr[label] for label in labels]
            runs = min(len(p.run_values) for p in parts)
            per_run = [math.fsum(p.run_values[r] for p in parts) / len(parts) for r in range(runs)]
            value, std = mean_std(per_run)
            averages.append(Record(
                model=model, task=task, snr=name, mode=mode, metric=parts[0].metric,
                value=value, std=std, runs=runs, run_values=per_run,
                n=sum(p.n for p in parts), parse_failures=sum(p.parse_failures for p in parts),
                refusals=sum(p.refusals or 0 for p in parts),
                errors=sum(p.errors or 0 for p in parts),
                over=tuple(labels),
            ))
    return cases + averages


def _order(rec: Record) -> tuple:
    return (rec.model, TASKS.index(rec.task), MODES.index(rec.mode), sort_key(rec.snr))
