"""Writing a report: summary.json/.md/.csv/.html, plots and predictions.jsonl.

All files are written to temporary names first and then renamed into place,
so a crash or a full disk leaves the previous report whole.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sseu_harness.files import atomic
from sseu_harness.report import tables
from sseu_harness.report.drilldown import CaseDrill
from sseu_harness.report.html import summary_html
from sseu_harness.report.plots import plot_files
from sseu_harness.results.intervals import MIN_CLIPS_PER_CLASS
from sseu_harness.results.paper import departures
from sseu_harness.results.records import RECORD_FIELDS, Record

SUMMARY_SCHEMA = "sseu-summary/1"


class ReportWriter:
    """The files of one report, written to temporary names and renamed into place together.

    Use as a context manager: on an exception (disk full, a bug in rendering)
    the temporaries are removed and the folder stays as it was; only the final
    renames, which do not fail on one file system in practice, touch the
    previous files. `stream` gives a text handle for a large file written row
    by row (predictions.jsonl), so no report is ever held in memory whole.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._temps: dict[str, Path] = {}
        self._handles: list = []

    def __enter__(self) -> "ReportWriter":
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def stream(self, name: str):
        handle = open(self._temp(name), "w", encoding="utf-8", newline="")
        self._handles.append(handle)
        return handle

    def add(self, name: str, data: str | bytes) -> None:
        self._temp(name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            for handle in self._handles:
                handle.close()
            if exc_type is None:
                for name, tmp in self._temps.items():
                    atomic.commit(tmp, self.folder / name)
        finally:
            for tmp in self._temps.values():
                tmp.unlink(missing_ok=True)

    def _temp(self, name: str) -> Path:
        self._temps[name] = tmp = atomic.temp_beside(self.folder / name)
        return tmp


def summary_markdown(summary: dict, plots: list[str] = ()) -> str:
    records, meta = summary["records"], summary["meta"]
    boot = meta.get("bootstrap")
    parts = [
        "# SSEU-Bench summary",
        "",
        f"Data `{meta['manifest']['name']}` ({meta['manifest']['items']} clips, sha256 `{meta['manifest']['sha256'][:12]}`), "
        f"prompts `{meta['prompts']['version']}`, embedder `{meta['embedder']}`, "
        f"normaliser `{meta['normalizer']}`, seeds {meta['seeds']}, harness {meta['harness_version']}."
        + (f" Brackets: 95% basic bootstrap interval over clips{' and runs' if meta.get('runs', 1) > 1 else ''} "
           f"({boot['resamples']} resamples, seed {boot['seed']})." if boot else "")
        + (f" `*`: the slice's rarest scene or event class has fewer than {MIN_CLIPS_PER_CLASS} clips, so the "
           "interval may cover the true value less than 90% of the time." if any(r.ci_warning for r in records) else ""),
        "",
    ]
    gates = summary.get("gates", [])
    if gates:
        failed = [g for g in gates if not g["passed"]]
        parts += ["## Gates", "", f"**{'FAILED' if failed else 'passed'}**: {len(gates) - len(failed)} of {len(gates)} passed.", ""]
        parts += [f"- {'❌' if not g['passed'] else '✅' if g.get('judged', True) else '➖ not judged:'} `{g['name']}`: "
              f"{g['message'].splitlines()[0]}" for g in gates]
        parts.append("")
    beside = tables.paper_block(records, departures(meta))
    if beside is not None:
        parts += [f"## {tables.PAPER_TITLE}", "", beside, ""]
    for title, table in tables.table1(records):
        parts += [f"## {title}", "", table, ""]
    second = tables.table2(records)
    if second:
        parts += [f"## {second[0]}", "", second[1], ""]
    note = tables.coverage_note(records)
    if note:
        parts += [note, ""]
    if summary.get("comparisons"):
        parts += ["## Against the baseline", "", tables.comparison_table(summary["comparisons"]), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    parts += ["## Throughput per case", "", tables.throughput_table(records), ""]
    return "\n".join(parts)


def summary_csv(records: list[Record]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RECORD_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(r.to_json() for r in records)
    return buffer.getvalue()


def write_summary_files(out: ReportWriter, records: list[Record], meta: dict, gates: list[dict] = (),
                        comparisons: list[dict] = (), drills: list[CaseDrill] = ()) -> dict:
    """summary.json/.md/.csv/.html and the plots, into an open report; `drills`: the clips each case lists.

    The summary handed to the renderers holds the `Record`s; summary.json their JSON form."""
    summary = {"schema": SUMMARY_SCHEMA, "meta": meta, "records": records}
    if gates:
        summary["gates"] = list(gates)
    if comparisons:
        summary["comparisons"] = list(comparisons)
    plots = plot_files(records)
    for name, png in plots.items():
        out.add(name, png)
    out.add("summary.csv", summary_csv(records))
    out.add("summary.md", summary_markdown(summary, sorted(plots)))
    out.add("summary.html", summary_html(summary, plots, list(drills)))
    out.add("summary.json", json.dumps({**summary, "records": [r.to_json() for r in records]}, indent=1, sort_keys=True)
            + "\n")
    return summary
