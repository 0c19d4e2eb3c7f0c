"""The paper's tables from records: Table 1 per (task, mode), Table 2 per task and mode.

Files (summary.md) keep every figure in one line per cell. On a terminal
(`width` given) a cell shows the value, "± std" with several runs and, when
asked (`--sseu-ci`), the interval on a second line; a table wider than the
terminal is split into column blocks that each repeat the system column.
"""

from __future__ import annotations

import textwrap
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


def table1(records: list[Record], fmt: str = "github", width: int | None = None, ci: bool = False) -> list[tuple[str, str]]:
    """[(title, table)]: rows = systems, columns = the task's SNRs and ``avg``.

    Without `width` every figure is in the cell (files); with it, terminal cells (`ci`: and intervals) fit `width`.
    """
    show = cell if width is None else (lambda r: terminal_cell(r, ci))
    index, models, out = _index(records), _models(records), []
    for task in TASKS:
        for mode in MODES:
            snrs = sorted({r.snr for r in records if r.task == task and r.mode == mode and r.snr.startswith("snr_")}, key=sort_key)
            if not snrs:
                continue
            columns = snrs + ["avg"]
            rows = [[m] + [show(index.get((m, task, c, mode))) for c in columns] for m in models]
            metric = TASK[task].metric
            arrow = "lower is better" if TASK[task].lower_is_better else "higher is better"
            title = f"Table 1 · {task} ({metric} %, {arrow}) · {mode}"
            out.append((title, fit(rows, ["system", *columns], fmt, width)))
    return out


def table2(records: list[Record], fmt: str = "github", width: int | None = None,
           ci: bool = False) -> tuple[str, str] | None:
    """Independent vs joint vs CoT at ``avg_mixed`` (mean over 10..-10 dB), or None without any."""
    index = _index(records)
    show = cell if width is None else (lambda r: terminal_cell(r, ci))
    rows = []
    for model in _models(records):
        for mode in MODES:
            cells = [index.get((model, task, "avg_mixed", mode)) for task in TASKS]
            if any(cells):
                rows.append([model, mode, *map(show, cells)])
    if not rows:
        return None
    headers = ["system", "mode", *(f"{t} {TASK[t].metric}" for t in TASKS)]
    return "Table 2 · avg_mixed (mean over 10, 5, 0, -5, -10 dB)", fit(rows, headers, fmt, width, keep=2)


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
    each title with its table, "Beside the paper" (with the run's `departures`) when a model names a paper
    system, then one line per gate.

    `spaced`: a blank line before every paragraph, gates included (the plugin's layout under pytest's
    section header); otherwise one after each table. `paint(text, passed)` colours a gate line.
    """
    paint = paint or (lambda text, passed: text)
    paragraphs = [f"{title}\n{table}" for title, table in terminal_tables(records, ci=ci)]
    beside = paper_block(records, list(departures), "simple", TERMINAL_WIDTH)
    if beside is not None:
        paragraphs.append(f"{PAPER_TITLE}\n{beside}")
    lines = [(f"gate {g.name}: {g.status}: {g.message}", g.passed) for g in gates]
    if spaced:
        return "".join(f"\n{p}\n" for p in paragraphs) + "".join(paint(f"\n{line}", ok) + "\n" for line, ok in lines)
    return "".join(f"{p}\n\n" for p in paragraphs) + "".join(paint(line, ok) + "\n" for line, ok in lines)
