"""Figures of a report, headless: each metric against SNR (the paper's Fig. 3) and modes per task (Table 2).

The SNR axis is in dB, as in the paper's Fig. 3: each finite SNR sits at its
value, speech only (+inf) and background only (-inf) one grid step beyond the
finite range at either end, and the axis runs from +inf on the left down to
-inf on the right (the tables' column order).
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sseu_harness.results.records import Record  # noqa: E402
from sseu_harness.spec.snr import parse_snr, sort_key  # noqa: E402
from sseu_harness.spec.tasks import MODES, TASK, TASKS  # noqa: E402

DEFAULT_STEP_DB = 5.0  # the paper's grid step: where +-inf go when fewer than two finite SNRs are plotted


def plot_files(records: list[Record]) -> dict[str, bytes]:
    """PNG files by name; a figure without data is left out."""
    files = {}
    for task in TASKS:
        png = _against_snr(records, task)
        if png:
            files[f"plot_{task}_vs_snr.png"] = png
    modes = _modes(records)
    if modes:
        files["plot_modes.png"] = modes
    return files


def _save(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def snr_positions(labels: list[str]) -> dict[str, float]:
    """x position (dB) of each SNR label: finite SNRs at their value, +-inf one grid step beyond the finite range."""
    finite = sorted({parse_snr(label) for label in labels} - {math.inf, -math.inf})
    steps = [b - a for a, b in zip(finite, finite[1:])]
    step = min(steps) if steps else DEFAULT_STEP_DB
    top, bottom = (finite[-1], finite[0]) if finite else (0.0, 0.0)
    positions = {}
    for label in labels:
        db = parse_snr(label)
        positions[label] = top + step if db == math.inf else bottom - step if db == -math.inf else db
    return positions


def snr_tick(label: str) -> str:
    db = parse_snr(label)
    return "+∞" if db == math.inf else "−∞" if db == -math.inf else f"{db:g}"


def against_snr_figure(records: list[Record], task: str):
    """The task's metric against SNR in dB, one line per model and mode, with the intervals; None without data."""
    rows = [r for r in records if r.task == task and not r.is_average]
    if not rows:
        return None
    snrs = sorted({r.snr for r in rows}, key=sort_key)
    x = snr_positions(snrs)
    fig, ax = plt.subplots(figsize=(7, 4))
    for model in dict.fromkeys(r.model for r in rows):
        for mode in MODES:
            line = {r.snr: r for r in rows if r.model == model and r.mode == mode}
            if not line:
                continue
            points = [line[snr] for snr in snrs if snr in line]
            ys = [p.value for p in points]
            # the interval holds the point (intervals.py); max(0, ...) only guards records of older reports
            low = [max(0.0, p.value - (p.value if p.ci_low is None else p.ci_low)) for p in points]
            high = [max(0.0, (p.value if p.ci_high is None else p.ci_high) - p.value) for p in points]
            ax.errorbar([x[p.snr] for p in points], ys, yerr=[low, high], marker="o", capsize=3,
                        label=f"{model} · {mode}")
    metric = TASK[task].metric
    ax.set_xticks([x[snr] for snr in snrs], [snr_tick(snr) for snr in snrs])
    ax.invert_xaxis()  # clean speech on the left, as the tables' columns
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(f"{metric} (%, {'lower' if TASK[task].lower_is_better else 'higher'} is better)")
    ax.set_title(f"{task}: {metric} against SNR (95% bootstrap intervals)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _against_snr(records: list[Record], task: str) -> bytes | None:
    fig = against_snr_figure(records, task)
    return _save(fig) if fig is not None else None


def _modes(records: list[Record]) -> bytes | None:
    rows = [r for r in records if r.snr == "avg_mixed"]
    if not rows:
        return None
    models = list(dict.fromkeys(r.model for r in rows))
    fig, axes = plt.subplots(1, len(TASKS), figsize=(11, 3.6))
    for ax, task in zip(axes, TASKS):
        width = 0.8 / len(MODES)
        for m, mode in enumerate(MODES):
            got = {r.model: r for r in rows if r.task == task and r.mode == mode}
            xs = [k + m * width for k, model in enumerate(models) if model in got]
            ys = [got[model].value for model in models if model in got]
            ax.bar(xs, ys, width=width, label=mode)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(models))], models, rotation=20, fontsize=8)
        ax.set_title(f"{task} {TASK[task].metric} (avg 10..-10 dB)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    return _save(fig)
