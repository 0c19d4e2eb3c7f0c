"""Per-process plugin state: the `Bench`, the prediction sink, and the controller's ledger."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sseu_harness.bench import Bench

BENCH = pytest.StashKey["Bench"]()
SINK = pytest.StashKey["PredictionSink"]()
LEDGER = pytest.StashKey["Ledger"]()
PARTIAL_PREFIX = ".partial-"


def bench_of(config: pytest.Config) -> "Bench":
    return config.stash[BENCH]


def prediction_sink(config: pytest.Config) -> "PredictionSink":
    return config.stash[SINK]


class PredictionSink:
    """Per-clip rows appended by this process to its own file as each case ends."""

    def __init__(self, partial_dir: Path, worker: str) -> None:
        self.path = partial_dir / f"{worker}.jsonl"

    def write(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, sort_keys=True) + "\n" for row in rows)
            handle.flush()
            os.fsync(handle.fileno())


@dataclass(eq=False)  # registered as a plugin: must stay hashable
class Ledger:
    """What the controller saw: the cases it expects, their outcomes, and their records."""

    partial_dir: Path
    expected: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.nodeid.startswith("sseu::"):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.nodeid] = report.outcome
        if report.when == "call":
            for name, value in report.user_properties:
                if name == "sseu_record":
                    self.records[report.nodeid] = json.loads(value)

    def missing(self) -> list[str]:
        """Cases that were expected to deliver a record and did not: passed without one, or never reported."""
        return sorted(
            nodeid for nodeid in self.expected
            if nodeid not in self.records and self.outcomes.get(nodeid) in (None, "passed")
        )

    def prediction_lines(self) -> list[str]:
        lines: list[str] = []
        if self.partial_dir.is_dir():
            for part in sorted(self.partial_dir.glob("*.jsonl")):
                lines.extend(part.read_text(encoding="utf-8").splitlines())
        return sorted(lines, key=_row_order)


def _row_order(line: str) -> tuple:
    row = json.loads(line)
    return (row["case"], row["run"], row["item"])
