"""Reading a report directory back: for `show`, `merge` and a baseline of the regression gate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Iterator

from sseu_harness.errors import ConfigError
from sseu_harness.report.writer import SUMMARY_SCHEMA
from sseu_harness.results.records import Record
from sseu_harness.scoring.rows import ClipRow


@dataclass(frozen=True)
class ReportDir:
    path: Path
    summary: dict

    @property
    def meta(self) -> dict:
        return self.summary["meta"]

    @property
    def records(self) -> list[Record]:
        return [Record.from_json(r) for r in self.summary["records"]]

    @property
    def case_records(self) -> list[Record]:
        return [r for r in self.records if not r.is_average]

    def rows_by_case(self) -> dict[str, list[ClipRow]]:
        """predictions.jsonl grouped by case id, in memory (a baseline's, for paired comparisons)."""
        return {case: rows for case, rows in self.case_rows()}

    def case_rows(self) -> Iterator[tuple[str, list[ClipRow]]]:
        """(case id, rows) case by case, streaming predictions.jsonl (written in case order)."""
        path = self.path / "predictions.jsonl"
        try:
            handle = path.open(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path} is missing: a report directory needs its per-clip predictions") from None
        with handle:
            rows = (_row(path, number, line) for number, line in enumerate(handle, start=1))
            for case, group in groupby(rows, key=lambda row: row.case):
                yield case, list(group)


def _row(path: Path, number: int, line: str) -> ClipRow:
    try:
        return ClipRow.from_json(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg}); the report is damaged, rerun it") from None


def load_report_dir(path: Path) -> ReportDir:
    summary_path = Path(path) / "summary.json"
    try:
        data = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no summary at {summary_path}: pass the --sseu-report-dir of a finished run") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{summary_path} is not valid JSON ({exc.msg}); rerun the benchmark to rewrite it") from None
    if not isinstance(data, dict) or data.get("schema") != SUMMARY_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ConfigError(f"{summary_path}: schema {found!r} is not {SUMMARY_SCHEMA!r}; it is not a report of this harness")
    if not isinstance(data.get("records"), list) or not isinstance(data.get("meta"), dict):
        raise ConfigError(f"{summary_path} lacks records or meta; rerun the benchmark to rewrite it")
    return ReportDir(Path(path), data)
