"""A case's stored figures checked against its per-clip rows: a report is only as good as its rows.

`summary.json` could be edited, or a report could lose its `predictions.jsonl`; a merged report or a
baseline that took the stored numbers on trust would then pass gates on numbers nothing measured. Every
report is written through `recounted` (the plugin's and `sseu merge`'s alike, `report/summarize.py`), and a
baseline and each merged report are checked with it before anything runs (`report/reader.py`). The counts
come from `scoring/rows.count_rows`, which also makes the plugin's records; the value from the rows'
per-clip figures (`CaseClips.point`), which give the plain metric.
"""

from __future__ import annotations

import math
from dataclasses import replace

from sseu_harness.errors import ConfigError
from sseu_harness.results.bootstrap import CaseClips
from sseu_harness.results.records import Record
from sseu_harness.scoring.rows import ClipRow, count_rows

TOLERANCE = 1e-6  # points: float rounding between the plain metric and the per-clip figures, far below any edit


def recounted(record: Record, clips: CaseClips, rows: list[ClipRow]) -> Record:
    """`record` with its clip, run and failure counts taken from its rows; `ConfigError` listing what the
    record states that its rows do not give (a value, a run value or a count)."""
    counts = count_rows(rows)
    point = [float(v) for v in clips.point()]
    problems = []
    if record.n != counts.clips:
        problems.append(f"n = {record.n}, its rows hold {counts.clips} clips")
    if len(record.run_values) != counts.runs or not all(map(_close, record.run_values, point)):
        problems.append(f"run values {_show(record.run_values)}, its rows give {_show(point)}")
    value = math.fsum(point) / len(point)
    if not _close(record.value, value):
        problems.append(f"{record.metric} = {_number(record.value)}, its rows give {_number(value)}")
    for name in ("parse_failures", "errors", "refusals"):
        stored = getattr(record, name)
        if stored is not None and stored != getattr(counts, name):  # None: a report of an older harness
            problems.append(f"{name} = {stored}, its rows count {getattr(counts, name)}")
    if problems:
        raise ConfigError(f"case {record.case}: " + "; ".join(problems))
    return replace(record, n=counts.clips, runs=counts.runs, parse_failures=counts.parse_failures,
                   errors=counts.errors, refusals=counts.refusals)


def _close(stored: object, computed: float) -> bool:
    return isinstance(stored, (int, float)) and math.isclose(stored, computed, rel_tol=0.0, abs_tol=TOLERANCE)


def _number(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else repr(value)


def _show(values: object) -> str:
    return "[" + ", ".join(map(_number, values)) + "]" if isinstance(values, list) else repr(values)
