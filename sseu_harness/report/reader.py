"""Reading a report directory back: for `show`, `merge` and a baseline of the regression gate.

Whatever is wrong with a report that is read back (not UTF-8, a folder where summary.json belongs, a record
without its fields, rows that do not give the stored figures) is a `ConfigError` naming the file and the fix,
raised before anything is run or written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Callable, Iterator

from sseu_harness.errors import ConfigError
from sseu_harness.report.writer import SUMMARY_SCHEMA
from sseu_harness.results.bootstrap import CaseClips
from sseu_harness.results.records import Record
from sseu_harness.results.recount import recounted
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
        except OSError as exc:
            raise ConfigError(f"cannot read {path} ({exc.strerror or exc}): a report directory needs its "
                              "per-clip predictions as a file") from None
        with handle:
            try:
                rows = (_row(path, number, line) for number, line in enumerate(handle, start=1))
                for case, group in groupby(rows, key=lambda row: row.case):
                    yield case, list(group)
            except UnicodeDecodeError:
                raise ConfigError(f"{path} is not UTF-8 text; the report is damaged, rerun it") from None

    def check_rows(self, clips_at: Callable[[str], set[str]] | None = None) -> None:
        """Refuse this report unless every case record is what its rows in predictions.jsonl give
        (`recount.recounted`); `clips_at(snr)`: the clips a case at that SNR must have scored."""
        records = {r.case: r for r in self.case_records}
        path, seen = self.path / "predictions.jsonl", set()
        damaged = f"summary.json and predictions.jsonl of {self.path} disagree (edited or damaged); rerun it"
        for case, rows in self.case_rows():
            if case in seen:
                raise ConfigError(f"{path}: the rows of case {case} are not together; {damaged}")
            seen.add(case)
            record = records.get(case)
            if record is None:
                continue
            try:
                clips = CaseClips.from_rows(record.task, rows)
                recounted(record, clips, rows)
            except ConfigError as exc:
                raise ConfigError(f"{exc}; {damaged}") from None
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise ConfigError(f"{path}: a row of case {case} is malformed ({exc}); {damaged}") from None
            if clips_at is not None and set(clips.clips) != clips_at(record.snr):
                raise ConfigError(f"{path}: case {case} scored other clips than this data set has at {record.snr}; "
                                  "compare runs of the same data, or rerun the baseline")
        without = sorted(records.keys() - seen)
        if without:
            raise ConfigError(f"{path} has no rows of {len(without)} case(s) of its summary.json "
                              f"({', '.join(without[:3])}{' ...' if len(without) > 3 else ''}), so their figures "
                              f"cannot be checked; {damaged}")


def _row(path: Path, number: int, line: str) -> ClipRow:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg}); the report is damaged, rerun it") from None
    if not isinstance(data, dict) or not isinstance(data.get("case"), str):
        raise ConfigError(f"{path}:{number}: not a prediction row (a JSON object with its case); "
                          "the report is damaged, rerun it")
    return ClipRow.from_json(line)


# fields every record of summary.json has, and their JSON types
RECORD_TYPES = {"model": str, "task": str, "snr": str, "mode": str, "metric": str, "value": (int, float),
                "std": (int, float), "runs": int, "run_values": list, "n": int, "parse_failures": int}


def load_report_dir(path: Path) -> ReportDir:
    summary_path = Path(path) / "summary.json"
    rerun = "rerun the benchmark to rewrite it"
    try:
        data = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no summary at {summary_path}: pass the --sseu-report-dir of a finished run") from None
    except IsADirectoryError:
        raise ConfigError(f"{summary_path} is a folder, not a file: pass a report dir or run folder "
                          "that holds a summary.json file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{summary_path} is not UTF-8 text (byte {exc.start}); it is not a summary this harness "
                          f"wrote: {rerun}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{summary_path} is not valid JSON ({exc.msg}); {rerun}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {summary_path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SUMMARY_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ConfigError(f"{summary_path}: schema {found!r} is not {SUMMARY_SCHEMA!r}; it is not a report of this harness")
    if not isinstance(data.get("records"), list) or not isinstance(data.get("meta"), dict):
        raise ConfigError(f"{summary_path} lacks records or meta; {rerun}")
    for number, record in enumerate(data["records"], start=1):
        problem = _record_problem(record)
        if problem:
            raise ConfigError(f"{summary_path}: record {number} {problem}; {rerun}")
    return ReportDir(Path(path), data)


def _record_problem(record: object) -> str | None:
    """What makes a record of summary.json unreadable, or None."""
    if not isinstance(record, dict):
        return "is not a JSON object"
    missing = [name for name in RECORD_TYPES if name not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    wrong = [name for name, kind in RECORD_TYPES.items()
             if not isinstance(record[name], kind) or isinstance(record[name], bool)]
    if wrong:
        return f"has {', '.join(wrong)} of the wrong type"
    if "case" in record and not isinstance(record["case"], str):
        return "has a case that is not text"
    return None
