"""The controller's end of a session: averages, intervals, gates and the report.

Runs once, on the process that sees every test report (the xdist controller,
or the only process without ``-n``). Gates that need the whole session are
reported as test entries of their own, so they show in the terminal summary
and in JUnit XML like any case.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sseu_harness.errors import ConfigError, SSEUError
from sseu_harness.numbers import is_finite_number
from sseu_harness.report.history import resolve_baseline
from sseu_harness.report.reader import ReportDir, load_report_dir
from sseu_harness.report.summarize import summarize
from sseu_harness.results.gates import GateResult, check_gates_config
from sseu_harness.results.records import Record, with_averages
from sseu_harness.results.thresholds import Bound, load_thresholds

from .items import NODE_PREFIX
from .state import Ledger, cases_of

GATE_PREFIX = NODE_PREFIX + "gate::"


@dataclass
class Gates:
    """What the session is gated on, loaded and checked at configure time."""

    bounds: list[Bound] = field(default_factory=list)
    baseline: ReportDir | None = None
    margin: float = 1.0
    resamples: int = 1000
    seed: int = 0
    hearing: bool = True  # the hearing gate (sseu_harness/results/gates.py)
    warnings: list[str] = field(default_factory=list)  # gates that would check nothing (`check_gates_config`)


@dataclass
class Outcome:
    records: list[Record]
    missing: list[str]
    gates: list[GateResult]
    report_error: str | None = None
    warning: str | None = None  # e.g. old runs that could not be pruned: the report itself is whole
    run: Path | None = None  # this session's run folder
    promoted: bool = False  # whether the top of the report dir shows it


def finish(session: pytest.Session, bench, ledger: Ledger, gates: Gates, report_dir: Path,
           shard: tuple[int, int] | None, keep_runs: int | None = None) -> Outcome:
    missing = ledger.missing()
    case_records = list(ledger.records.values())
    if not (ledger.records or ledger.expected):
        return Outcome([], missing, [])
    clip_ids = {item.id for record in case_records for item in bench.items_at(record.snr)}
    meta = {**bench.meta(), "shard": f"{shard[0]}/{shard[1]}" if shard else None}
    try:
        summary = summarize(
            report_dir, case_records, ledger.case_rows(), clip_ids, meta,
            bounds=gates.bounds, selected=_selected_slices(session.config, ledger.expected), baseline=gates.baseline,
            margin=gates.margin, resamples=gates.resamples, seed=gates.seed, hearing=gates.hearing,
            complete=complete(ledger), failed_cases=ledger.failed(), keep_runs=keep_runs,
        )
    except OSError as exc:  # the previous report is intact; the per-clip rows stay in the cache dir
        return Outcome(with_averages(case_records, bench.task_snrs()), missing, [],
                       f"cannot write the report to {report_dir}: {exc}")
    except SSEUError as exc:  # rows that do not give a record's figures, a baseline that cannot be compared
        return Outcome(with_averages(case_records, bench.task_snrs()), missing, [],
                       f"cannot make the report in {report_dir}: {exc}; the previous report is untouched")
    _emit(session.config, summary.gates)
    shutil.rmtree(ledger.partial_dir, ignore_errors=True)
    _github_step_summary(summary.run)
    return Outcome(summary.records, missing, summary.gates, summary.promote_error, run=summary.run,
                   promoted=summary.promoted, warning=summary.prune_error)


def complete(ledger: Ledger) -> bool:
    """Whether this run may become the report dir's latest: every selected case that was not skipped
    delivered its record (a model whose weights are missing delivers none)."""
    return bool(ledger.records) and all(
        nodeid in ledger.records for nodeid in ledger.expected if ledger.outcomes.get(nodeid) != "skipped")


def _selected_slices(config: pytest.Config, expected: set[str]) -> set[tuple[str, str, str]]:
    """(model, task, mode) of the expected cases; node ids that are not cases are left out."""
    cases = cases_of(config)
    return {(case.model, case.task, case.mode) for case in map(cases.get, expected) if case is not None}


def _emit(config: pytest.Config, results: list[GateResult]) -> None:
    """Each gate as a test of its own: setup, call and teardown reports, as pytest would send them."""
    for result in results:
        nodeid = GATE_PREFIX + result.name
        location = (str(config.rootpath), None, nodeid)
        for when in ("setup", "call", "teardown"):
            failed = when == "call" and not result.passed
            report = pytest.TestReport(
                nodeid, location, {}, "failed" if failed else "passed",
                result.message if failed else None, when, [("sseu_gate", result.message)] if when == "call" else [],
            )
            config.hook.pytest_runtest_logreport(report=report)


def _github_step_summary(report_dir: Path) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write((report_dir / "summary.md").read_text(encoding="utf-8") + "\n")


def load_gates(config: pytest.Config, bench, sharded: bool) -> Gates:
    """Gates from the options; raises `ConfigError` on a bad file or a gate this session cannot judge."""
    thresholds, baseline = config.getoption("sseu_thresholds"), config.getoption("sseu_baseline")
    gates = Gates(
        bounds=load_thresholds(Path(thresholds)) if thresholds else [],
        baseline=load_report_dir(resolve_baseline(baseline, Path(config.getoption("sseu_report_dir"))))
        if baseline else None,
        margin=config.getoption("sseu_margin"),
        resamples=config.getoption("sseu_bootstrap"),
        seed=config.getoption("sseu_bootstrap_seed"),
        hearing=not config.getoption("sseu_no_hearing_check"),
    )
    if gates.resamples < 1:
        raise ConfigError(f"--sseu-bootstrap must be at least 1, got {gates.resamples}")
    if not is_finite_number(gates.margin) or gates.margin < 0:  # a NaN margin would never fail a case
        raise ConfigError(f"--sseu-margin must be a finite number of points >= 0, got {gates.margin}")
    gates.warnings = check_gates_config(gates.bounds, gates.baseline, bench.available_snrs, bench.meta(), sharded,
                                        {case.id for case in bench.cases()})
    if gates.baseline is not None and not hasattr(config, "workerinput"):  # now, not after every case
        gates.baseline.check_rows(lambda snr: {item.id for item in bench.items_at(snr)})
    return gates
