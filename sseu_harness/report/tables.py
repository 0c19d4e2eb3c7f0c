"""The paper's tables from records: Table 1 per (task, mode), Table 2 per task and mode.

Files (summary.md) keep every figure in one line per cell. On a terminal
(`width` given) a cell shows the value, "± std" with several runs and, when
asked (`--sseu-ci`), the interval on a second line; a table wider than the
terminal is split into column blocks that each repeat the system column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from tabulate import tabulate

from sseu_harness.spec.snr import sort_key
from sseu_harness.spec.tasks import MODES, TASK, TASKS

if TYPE_CHECKING:
    from sseu_harness.results.gates import GateResult
    from sseu_harness.results.records import Record


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
                   spaced: bool = False, paint: Callable[[str, bool], str] | None = None) -> str:
    """The whole terminal block as text, the one rendering the plugin, `show` and `merge` print:
    each title with its table, then one line per gate.

    `spaced`: a blank line before every paragraph, gates included (the plugin's layout under pytest's
    section header); otherwise one after each table. `paint(text, passed)` colours a gate line.
    """
    paint = paint or (lambda text, passed: text)
    paragraphs = [f"{title}\n{table}" for title, table in terminal_tables(records, ci=ci)]
    lines = [(f"gate {g.name}: {g.status}: {g.message}", g.passed) for g in gates]
    if spaced:
        return "".join(f"\n{p}\n" for p in paragraphs) + "".join(paint(f"\n{line}", ok) + "\n" for line, ok in lines)
    return "".join(f"{p}\n\n" for p in paragraphs) + "".join(paint(line, ok) + "\n" for line, ok in lines)
