"""The paper's tables from records: Table 1 per (task, mode), Table 2 per task and mode.

Files (summary.md) keep every figure in one line per cell. On a terminal
(`width` given) a cell shows the value, "± std" with several runs and, when
asked (`--sseu-ci`), the interval on a second line; a table wider than the
terminal is split into column blocks that each repeat the system column.
A system is a row only in the tables where it has a case (`table1_data`,
`table2_rows`, shared with summary.html); `coverage_note` is the footnote that
names the cases of a system missing from some tables.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from tabulate import tabulate

from sseu_harness.results.paper import inside_interval
from sseu_harness.spec.snr import sort_key
from sseu_harness.spec.tasks import MODES, TASK, TASKS

if TYPE_CHECKING:
    from sseu_harness.results.gates import GateResult
    from sseu_harness.results.paper import Departure
    from sseu_harness.results.records import Record

PAPER_TITLE = "Beside the paper"


def cell(record: Record | None) -> str:
    """``mean`` (``± std`` over runs) and ``[low, high]``, the 95% bootstrap interval, when known; ``*`` after it
    marks an interval over a slice too small to trust (``ci_warning``, see `intervals.py`)."""
    if record is None:
        return "-"
    text = f"{record.value:.2f}"
    if record.runs > 1:
        text += f" ± {record.std:.2f}"
    if record.ci_low is not None:
        text += f" [{record.ci_low:.1f}, {record.ci_high:.1f}]" + ("*" if record.ci_warning else "")
    return text


def terminal_cell(record: Record | None, ci: bool = False) -> str:
    """``mean`` (``± std`` over runs); ``[low, high]`` on a second line when `ci` is asked for."""
    if record is None:
        return "-"
    text = f"{record.value:.2f}"
    if record.runs > 1:
        text += f" ± {record.std:.2f}"
    if ci and record.ci_low is not None:
        text += f"\n[{record.ci_low:.1f}, {record.ci_high:.1f}]"
    return text


MAX_SYSTEM = 32  # characters of a system name on a terminal; longer ones are cut with "…"


def fit(rows: list[list[str]], headers: list[str], fmt: str, width: int | None, keep: int = 1) -> str:
    """`tabulate`, split into blocks of columns no wider than `width`, each repeating the first `keep` columns."""
    if width is None:
        return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
    rows = [[_cut(c) if k < keep else c for k, c in enumerate(row)] for row in rows]
    blocks, start = [], keep
    while start < len(headers):
        end = start + 1
        while end < len(headers) and _width(rows, headers, keep, start, end + 1, fmt) <= width:
            end += 1
        blocks.append(_render(rows, headers, keep, start, end, fmt))
        start = end
    return "\n\n".join(blocks) if blocks else tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SYSTEM else text[:MAX_SYSTEM - 1] + "…"


def _render(rows, headers, keep, start, end, fmt) -> str:
    return tabulate([row[:keep] + row[start:end] for row in rows], headers=headers[:keep] + headers[start:end],
                    tablefmt=fmt, disable_numparse=True)


def _width(rows, headers, keep, start, end, fmt) -> int:
    return max(len(line) for line in _render(rows, headers, keep, start, end, fmt).splitlines())


def _index(records: list[Record]) -> dict[tuple, Record]:
    return {r.slice: r for r in records}


def _models(records: list[Record]) -> list[str]:
    return list(dict.fromkeys(r.model for r in records))


@dataclass(frozen=True)
class Table1:
    """One Table 1 (a task in a mode): its columns and, per system with a case in it, its records.

    The one source of Table 1 for every renderer (files, terminal, summary.html), so all show the same rows."""

    task: str
    mode: str
    columns: list[str]  # the task's SNR labels, then "avg"
    rows: list[tuple[str, list["Record | None"]]]  # (system, a record or None per column)

    @property
    def title(self) -> str:
        arrow = "lower is better" if TASK[self.task].lower_is_better else "higher is better"
        return f"Table 1 · {self.task} ({TASK[self.task].metric} %, {arrow}) · {self.mode}"


def table1_data(records: list[Record]) -> list[Table1]:
    """Table 1 per task and mode that has a record; a system is a row only where it has a case."""
    index, models, out = _index(records), _models(records), []
    for task in TASKS:
        for mode in MODES:
            snrs = sorted({r.snr for r in records if r.task == task and r.mode == mode and r.snr.startswith("snr_")},
                          key=sort_key)
            if not snrs:
                continue
            columns = snrs + ["avg"]
            rows = [(m, [index.get((m, task, c, mode)) for c in columns]) for m in models]
            out.append(Table1(task, mode, columns, [(m, cells) for m, cells in rows if any(cells)]))
    return out


TABLE2_TITLE = "Table 2 · avg_mixed (mean over 10, 5, 0, -5, -10 dB)"
TABLE2_HEADERS = ["system", "mode", *(f"{t} {TASK[t].metric}" for t in TASKS)]


def table2_rows(records: list[Record]) -> list[tuple[str, str, list["Record | None"]]]:
    """(system, mode, its ``avg_mixed`` record per task) for every system and mode with at least one."""
    index, rows = _index(records), []
    for model in _models(records):
        for mode in MODES:
            cells = [index.get((model, task, "avg_mixed", mode)) for task in TASKS]
            if any(cells):
                rows.append((model, mode, cells))
    return rows


def table1(records: list[Record], fmt: str = "github", width: int | None = None, ci: bool = False) -> list[tuple[str, str]]:
    """[(title, table)]: rows = systems, columns = the task's SNRs and ``avg``.

    Without `width` every figure is in the cell (files); with it, terminal cells (`ci`: and intervals) fit `width`.
    """
    show = cell if width is None else (lambda r: terminal_cell(r, ci))
    return [(t.title, fit([[m, *map(show, cells)] for m, cells in t.rows], ["system", *t.columns], fmt, width))
            for t in table1_data(records)]


def table2(records: list[Record], fmt: str = "github", width: int | None = None,
           ci: bool = False) -> tuple[str, str] | None:
    """Independent vs joint vs CoT at ``avg_mixed`` (mean over 10..-10 dB), or None without any."""
    show = cell if width is None else (lambda r: terminal_cell(r, ci))
    rows = [[model, mode, *map(show, cells)] for model, mode, cells in table2_rows(records)]
    if not rows:
        return None
    return TABLE2_TITLE, fit(rows, TABLE2_HEADERS, fmt, width, keep=2)


def coverage_note(records: list[Record]) -> str | None:
    """The footnote naming, for each system absent from some tables, the cases it has
    (e.g. ``faster-whisper: ASR, independent only``); None when every system is in every table."""
    pairs = {model: {(r.task, r.mode) for r in records if r.model == model} for model in _models(records)}
    every = set().union(*pairs.values()) if pairs else set()
    scopes = [f"{model}: {_scope(have)} only" for model, have in pairs.items() if have != every]
    return f"Not in every table: {'; '.join(scopes)}." if scopes else None


def _scope(pairs: set[tuple[str, str]]) -> str:
    """``ASC and AT, independent`` when the pairs are every task with every mode; else each pair."""
    tasks = [t for t in TASKS if any(t == task for task, _ in pairs)]
    modes = [m for m in MODES if any(m == mode for _, mode in pairs)]
    if len(pairs) == len(tasks) * len(modes):
        return f"{' and '.join(tasks)}, {' and '.join(modes)}"
    return ", ".join(f"{task} {mode}" for task in TASKS for mode in MODES if (task, mode) in pairs)


def _with_std(value: float, std: float | None, std_format: str = ".2f") -> str:
    return f"{value:.2f}" if std is None else f"{value:.2f} ± {std:{std_format}}"


def paper_table(records: list[Record], fmt: str = "github", width: int | None = None) -> str | None:
    """Our figure (± std), the paper's (± std), Δ = ours - paper, and whether the paper's value lies inside our
    95 % interval, for every record that has a paper figure (`results/paper.py`); None without any."""
    rows = []
    for r in records:
        if r.paper is None:
            continue
        inside = inside_interval(r)
        rows.append([r.model, r.paper["system"], r.paper["table"], f"{r.task} {r.metric}", r.snr, r.mode,
                     _with_std(r.value, r.std if r.runs > 1 else None),
                     _with_std(r.paper["value"], r.paper["std"], "g"),  # the paper's std as printed (one decimal)
                     f"{r.paper['delta']:+.2f}", "-" if inside is None else "yes" if inside else "no"])
    if not rows:
        return None
    headers = ["system", "paper system", "table", "task", "snr", "mode", "ours", "paper", "Δ", "in CI"]
    return fit(rows, headers, fmt, width)


def departures_table(found: list[Departure], fmt: str = "github", width: int | None = None) -> str:
    """What makes this run not like for like with the paper: one row per departure."""
    rows = [[d.topic, d.ours, d.paper] for d in found]
    if width is not None:  # long texts wrap inside their column on a terminal
        rows = [[d.topic, _wrap(d.ours, 48), _wrap(d.paper, 44)] for d in found]
    return tabulate(rows, headers=["not like the paper", "this run", "the paper"], tablefmt=fmt, disable_numparse=True)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def paper_block(records: list[Record], found: list[Departure], fmt: str = "github",
                width: int | None = None) -> str | None:
    """The departures, then the table beside the paper; None when no record has a paper figure."""
    table = paper_table(records, fmt, width)
    if table is None:
        return None
    return (departures_table(found, fmt, width) + "\n\n" if found else "") + table


def throughput_table(records: list[Record], fmt: str = "github") -> str:
    rows = [[r.case, r.n * r.runs, r.seconds, r.clips_per_s] for r in records if not r.is_average]
    return tabulate(rows, headers=["case", "clips", "seconds", "clips/s"], tablefmt=fmt, disable_numparse=True)


def comparison_table(comparisons: list[dict], fmt: str = "github") -> str:
    rows = [[c["case"], c["metric"], f"{c['baseline']:.2f}", f"{c['current']:.2f}", f"{c['worsening']:+.2f}",
             f"[{c['low']:.2f}, {c['high']:.2f}]", f"{c['p_value']:.2g}", "yes" if c["significant"] else "no",
             "FAIL" if c["failed"] else "ok"] for c in comparisons]
    headers = ["case", "metric", "baseline", "now", "worse by", "95% CI", "p", "significant (Holm)", "gate"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


TERMINAL_WIDTH = 120


def terminal_tables(records: list[Record], ci: bool = False, width: int = TERMINAL_WIDTH) -> list[tuple[str, str]]:
    """Table 1 and Table 2 as a terminal shows them: no line wider than `width`."""
    second = table2(records, "simple", width, ci)
    return table1(records, "simple", width, ci) + ([second] if second else [])


def terminal_block(records: list[Record], ci: bool = False, gates: Iterable["GateResult"] = (), *,
                   spaced: bool = False, paint: Callable[[str, bool], str] | None = None,
                   departures: list[Departure] = ()) -> str:
    """The whole terminal block as text, the one rendering the plugin, `show` and `merge` print:
    each title with its table, the footnote of systems not in every table, "Beside the paper" (with the run's `departures`) when a model names a paper
    system, then one line per gate.

    `spaced`: a blank line before every paragraph, gates included (the plugin's layout under pytest's
    section header); otherwise one after each table. `paint(text, passed)` colours a gate line.
    """
    paint = paint or (lambda text, passed: text)
    paragraphs = [f"{title}\n{table}" for title, table in terminal_tables(records, ci=ci)]
    note = coverage_note(records)  # the footnote of the tables above
    if note:
        paragraphs.append(textwrap.fill(note, TERMINAL_WIDTH))
    beside = paper_block(records, list(departures), "simple", TERMINAL_WIDTH)
    if beside is not None:
        paragraphs.append(f"{PAPER_TITLE}\n{beside}")
    lines = [(f"gate {g.name}: {g.status}: {g.message}", g.passed) for g in gates]
    if spaced:
        return "".join(f"\n{p}\n" for p in paragraphs) + "".join(paint(f"\n{line}", ok) + "\n" for line, ok in lines)
    return "".join(f"{p}\n\n" for p in paragraphs) + "".join(paint(line, ok) + "\n" for line, ok in lines)
