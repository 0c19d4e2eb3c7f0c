"""Metric records: one per case, plus the averages the paper's tables show.

A record holds only JSON builtins, because records travel from pytest-xdist
workers to the controller inside test reports (FACTS.md: a numpy float there
loses the report). ``std`` is the sample standard deviation over runs (0 for
one run); ``n`` is the clips scored per run; ``parse_failures`` and
``refusals`` (answers that declined, scored as empty predictions) are summed
over runs.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
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


def case_record(
    case: Case,
    run_values: list[float],
    seeds: list[int],
    n: int,
    parse_failures: int,
    seconds: float,
    refusals: int = 0,
) -> dict:
    value, std = mean_std(run_values)
    return {
        "case": case.id,
        "model": case.model,
        "task": case.task,
        "snr": case.snr,
        "mode": case.mode,
        "metric": case.metric,
        "value": float(value),
        "std": float(std),
        "runs": len(run_values),
        "run_values": [float(v) for v in run_values],
        "seeds": [int(s) for s in seeds],
        "n": int(n),
        "parse_failures": int(parse_failures),
        "refusals": int(refusals),
        "seconds": round(float(seconds), 4),
        "clips_per_s": round(n * len(run_values) / seconds, 2) if seconds > 0 else None,
    }


def with_averages(records: Iterable[dict], task_snrs: dict[str, list[str]]) -> list[dict]:
    """Case records (sorted) followed by ``avg`` (all the task's SNRs) and ``avg_mixed`` (10..-10 dB).

    An average is emitted only when every SNR it spans has a record, so a
    narrowed selection never shows a partial mean under the paper's name.
    """
    cases = sorted(records, key=_order)
    by_slice: dict[tuple[str, str, str], dict[str, dict]] = defaultdict(dict)
    for rec in cases:
        by_slice[(rec["model"], rec["task"], rec["mode"])][rec["snr"]] = rec
    averages = []
    for (model, task, mode), per_snr in by_slice.items():
        for name, labels in (("avg", task_snrs.get(task, [])), ("avg_mixed", MIXED_LABELS)):
            if not labels or not all(label in per_snr for label in labels):
                continue
            parts = [per_snr[label] for label in labels]
            runs = min(len(p["run_values"]) for p in parts)
            per_run = [math.fsum(p["run_values"][r] for p in parts) / len(parts) for r in range(runs)]
            value, std = mean_std(per_run)
            averages.append({
                "model": model, "task": task, "snr": name, "mode": mode, "metric": parts[0]["metric"],
                "value": value, "std": std, "runs": runs, "run_values": per_run,
                "n": sum(p["n"] for p in parts), "parse_failures": sum(p["parse_failures"] for p in parts),
                "refusals": sum(p.get("refusals", 0) for p in parts),
                "errors": sum(p.get("errors", 0) for p in parts),
                "over": list(labels),
            })
    return cases + averages


def _order(rec: dict) -> tuple:
    return (rec["model"], TASKS.index(rec["task"]), MODES.index(rec["mode"]), sort_key(rec["snr"]))


def failure_breach(record: dict, max_error_rate: float, max_parse_failure_rate: float) -> str | None:
    """Why a case fails on its failed clips, or None: failed model calls and unparsable answers are gated apart."""
    clips = record["n"] * record["runs"]
    errors, failures = record.get("errors", 0), record["parse_failures"]
    if clips and errors / clips > max_error_rate:
        quoted = "; ".join(record.get("first_errors", []))
        return (f"{errors} of {clips} model calls failed ({errors / clips:.1%} > {max_error_rate:.1%}, "
                f"--sseu-max-error-rate); first errors: {quoted}")
    if clips and failures / clips > max_parse_failure_rate:
        return (f"{failures} of {clips} answers could not be parsed ({failures / clips:.1%} > "
                f"{max_parse_failure_rate:.1%}, --sseu-max-parse-failure-rate); see predictions.jsonl")
    return None
