"""Per-process plugin state: the `Bench`, the prediction sink, and the controller's ledger."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from sseu_harness.results.records import Record
from sseu_harness.scoring.rows import ClipRow

if TYPE_CHECKING:
    from sseu_harness.run.session import Bench
    from sseu_harness.spec.cases import Case

BENCH = pytest.StashKey["Bench"]()
SINK = pytest.StashKey["PredictionSink"]()
LEDGER = pytest.StashKey["Ledger"]()
GATES = pytest.StashKey["Gates"]()
CASES = pytest.StashKey["dict[str, Case]"]()
PARTIAL_PREFIX = ".partial-"


def bench_of(config: pytest.Config) -> "Bench":
    return config.stash[BENCH]


def cases_of(config: pytest.Config) -> "dict[str, Case]":
    """{node id: case} of the session's grid, built at configure: the xdist controller has it without collecting."""
    return config.stash[CASES]


def prediction_sink(config: pytest.Config) -> "PredictionSink":
    return config.stash[SINK]


class PredictionSink:
    """Per-clip rows of each finished case, one file per case, so the controller can stream them in case order."""

    def __init__(self, partial_dir: Path) -> None:
        self.partial_dir = partial_dir

    def write(self, case_id: str, rows: list[ClipRow]) -> None:
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        path = self.partial_dir / f"{case_id.replace(os.sep, '_')}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            handle.writelines(row.to_json() + "\n" for row in rows)
            handle.flush()
            os.fsync(handle.fileno())


@dataclass(eq=False)  # registered as a plugin: must stay hashable
class Ledger:
    """What the controller saw: the cases it expects, their outcomes, and their records."""

    partial_dir: Path
    expected: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.nodeid.startswith("sseu::"):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.nodeid] = report.outcome
        if report.when == "call":
            for name, value in report.user_properties:
                if name == "sseu_record":
                    self.records[report.nodeid] = Record.from_json(json.loads(value))

    def missing(self) -> list[str]:
        """Cases that were expected to deliver a record and did not: passed without one, or never reported."""
        return sorted(
            nodeid for nodeid in self.expected
            if nodeid not in self.records and self.outcomes.get(nodeid) in (None, "passed")
        )

    def failed(self) -> int:
        """Cases whose test failed (a bound breached, too many errors): such a run is never `previous`."""
        return sum(outcome == "failed" for outcome in self.outcomes.values())

    def case_rows(self) -> Iterator[tuple[str, list[ClipRow]]]:
        """(case id, its per-clip rows in (run, item) order), case by case in case-id order."""
        if not self.partial_dir.is_dir():
            return
        for path in sorted(self.partial_dir.glob("*.jsonl")):
            with path.open(encoding="utf-8") as handle:
                rows = [ClipRow.from_json(line) for line in handle]
            if rows:
                yield rows[0].case, sorted(rows, key=lambda row: (row.run, row.item))
