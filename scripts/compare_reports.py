"""Compare two report folders' summary.json and predictions.jsonl, apart from the harness version,
timing fields, the worker that ran a case, and file paths (the proof of issue 13: a restructure
that changes no number). Exit 0 when equal, 1 with the first differences otherwise.

    python scripts/compare_reports.py BEFORE_REPORT_DIR AFTER_REPORT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

IGNORED = {"harness_version", "seconds", "clips_per_s", "worker", "path"}


def stripped(value):
    if isinstance(value, dict):
        return {k: stripped(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [stripped(v) for v in value]
    return value


def differences(before, after, where: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            if key not in before or key not in after:
                out.append(f"{where}/{key}: only in {'after' if key in after else 'before'}")
            else:
                out += differences(before[key], after[key], f"{where}/{key}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for k, (b, a) in enumerate(zip(before, after)) for d in differences(b, a, f"{where}[{k}]")]
    return [] if before == after else [f"{where}: {before!r} != {after!r}"[:300]]


def load(report: Path) -> dict:
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (report / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    return {"summary.json": stripped(summary), "predictions.jsonl": stripped(rows)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = (load(Path(arg)) for arg in argv)
    found = differences(before, after)
    for line in found[:20]:
        print(line)
    rows = len(after["predictions.jsonl"])
    records = len(after["summary.json"]["records"])
    print(f"{'DIFFERENT' if found else 'identical'}: {records} records, {rows} prediction rows"
          + (f", {len(found)} differences" if found else ""))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
