"""The paper's tables from records: Table 1 per (task, mode), Table 2 per task and mode."""

from __future__ import annotations

from tabulate import tabulate

from .snr import LOWER_IS_BETTER, METRIC_OF_TASK, MODES, TASKS, sort_key


def cell(record: dict | None) -> str:
    """``mean`` (``± std`` over runs) and ``[low, high]``, the 95% bootstrap interval, when known; ``*`` after it
    marks an interval over a slice too small to trust (``ci_warning``, see `intervals.py`)."""
    if record is None:
        return "-"
    text = f"{record['value']:.2f}"
    if record["runs"] > 1:
        text += f" ± {record['std']:.2f}"
    if "ci_low" in record:
        text += f" [{record['ci_low']:.1f}, {record['ci_high']:.1f}]" + ("*" if record.get("ci_warning") else "")
    return text


def _index(records: list[dict]) -> dict[tuple, dict]:
    return {(r["model"], r["task"], r["snr"], r["mode"]): r for r in records}


def _models(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in records))


def table1(records: list[dict], fmt: str = "github") -> list[tuple[str, str]]:
    """[(title, table)]: rows = systems, columns = the task's SNRs and ``avg``."""
    index, models, out = _index(records), _models(records), []
    for task in TASKS:
        for mode in MODES:
            snrs = sorted({r["snr"] for r in records if r["task"] == task and r["mode"] == mode and r["snr"].startswith("snr_")}, key=sort_key)
            if not snrs:
                continue
            columns = snrs + ["avg"]
            rows = [[m] + [cell(index.get((m, task, c, mode))) for c in columns] for m in models]
            metric = METRIC_OF_TASK[task]
            arrow = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
            title = f"Table 1 · {task} ({metric} %, {arrow}) · {mode}"
            out.append((title, tabulate(rows, headers=["system", *columns], tablefmt=fmt, disable_numparse=True)))
    return out


def table2(records: list[dict], fmt: str = "github") -> tuple[str, str] | None:
    """Independent vs joint vs CoT at ``avg_mixed`` (mean over 10..-10 dB), or None without any."""
    index = _index(records)
    rows = []
    for model in _models(records):
        for mode in MODES:
            cells = [index.get((model, task, "avg_mixed", mode)) for task in TASKS]
            if any(cells):
                rows.append([model, mode, *map(cell, cells)])
    if not rows:
        return None
    headers = ["system", "mode", *(f"{t} {METRIC_OF_TASK[t]}" for t in TASKS)]
    return "Table 2 · avg_mixed (mean over 10, 5, 0, -5, -10 dB)", tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def throughput_table(records: list[dict], fmt: str = "github") -> str:
    rows = [[r["case"], r["n"] * r["runs"], r["seconds"], r["clips_per_s"]] for r in records if "case" in r]
    return tabulate(rows, headers=["case", "clips", "seconds", "clips/s"], tablefmt=fmt, disable_numparse=True)


def comparison_table(comparisons: list[dict], fmt: str = "github") -> str:
    rows = [[c["case"], c["metric"], f"{c['baseline']:.2f}", f"{c['current']:.2f}", f"{c['worsening']:+.2f}",
             f"[{c['low']:.2f}, {c['high']:.2f}]", f"{c['p_value']:.2g}", "yes" if c["significant"] else "no",
             "FAIL" if c["failed"] else "ok"] for c in comparisons]
    headers = ["case", "metric", "baseline", "now", "worse by", "95% CI", "p", "significant (Holm)", "gate"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
