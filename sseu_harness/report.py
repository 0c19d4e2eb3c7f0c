"""Writing a report directory: summary.json/.md/.csv and predictions.jsonl.

All files are written to temporary names first and then renamed into place,
so a crash or a full disk leaves the previous report whole.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

from . import tables
from .records import RECORD_FIELDS

SUMMARY_SCHEMA = "sseu-summary/1"


def write_all(folder: Path, files: dict[str, str]) -> None:
    """Write every file to a temporary name first, then rename them all into place.

    A failure while writing (disk full, a bug in rendering) leaves the folder
    as it was; only the renames, which do not fail on one file system in
    practice, touch the previous files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    temps: dict[str, str] = {}
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            temps[name] = tmp
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)


def summary_markdown(summary: dict) -> str:
    records, meta = summary["records"], summary["meta"]
    parts = [
        "# SSEU-Bench summary",
        "",
        f"Data `{meta['manifest']['name']}` ({meta['manifest']['items']} clips, sha256 `{meta['manifest']['sha256'][:12]}`), "
        f"prompts `{meta['prompts']['version']}`, embedder `{meta['embedder']}`, "
        f"normaliser `{meta['normalizer']}`, seeds {meta['seeds']}, harness {meta['harness_version']}.",
        "",
    ]
    for title, table in tables.table1(records):
        parts += [f"## {title}", "", table, ""]
    second = tables.table2(records)
    if second:
        parts += [f"## {second[0]}", "", second[1], ""]
    parts += ["## Throughput per case", "", tables.throughput_table(records), ""]
    return "\n".join(parts)


def summary_csv(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RECORD_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def write_report(report_dir: Path, records: list[dict], meta: dict, prediction_lines: Iterable[str]) -> dict:
    summary = {"schema": SUMMARY_SCHEMA, "meta": meta, "records": records}
    write_all(report_dir, {
        "predictions.jsonl": "".join(line if line.endswith("\n") else line + "\n" for line in prediction_lines),
        "summary.csv": summary_csv(records),
        "summary.md": summary_markdown(summary),
        "summary.json": json.dumps(summary, indent=1, sort_keys=True) + "\n",
    })
    return summary
