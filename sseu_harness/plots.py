"""Figures of a report, headless: each metric against SNR (the paper's Fig. 3) and modes per task (Table 2)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .snr import LOWER_IS_BETTER, METRIC_OF_TASK, MODES, TASKS, sort_key  # noqa: E402


def plot_files(records: list[dict]) -> dict[str, bytes]:
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


def _against_snr(records: list[dict], task: str) -> bytes | None:
    rows = [r for r in records if r["task"] == task and "case" in r]
    if not rows:
        return None
    snrs = sorted({r["snr"] for r in rows}, key=sort_key)
    fig, ax = plt.subplots(figsize=(7, 4))
    for model in dict.fromkeys(r["model"] for r in rows):
        for mode in MODES:
            line = {r["snr"]: r for r in rows if r["model"] == model and r["mode"] == mode}
            if not line:
                continue
            xs = [k for k, snr in enumerate(snrs) if snr in line]
            ys = [line[snrs[k]]["value"] for k in xs]
            # a percentile interval need not contain the point (e.g. AP under resampling): clip at the point
            low = [max(0.0, ys[i] - line[snrs[k]].get("ci_low", ys[i])) for i, k in enumerate(xs)]
            high = [max(0.0, line[snrs[k]].get("ci_high", ys[i]) - ys[i]) for i, k in enumerate(xs)]
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=f"{model} · {mode}")
    metric = METRIC_OF_TASK[task]
    ax.set_xticks(range(len(snrs)), snrs, rotation=30)
    ax.set_ylabel(f"{metric} (%, {'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)")
    ax.set_title(f"{task}: {metric} against SNR (95% bootstrap intervals)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig)


def _modes(records: list[dict]) -> bytes | None:
    rows = [r for r in records if r["snr"] == "avg_mixed"]
    if not rows:
        return None
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(TASKS), figsize=(11, 3.6))
    for ax, task in zip(axes, TASKS):
        width = 0.8 / len(MODES)
        for m, mode in enumerate(MODES):
            got = {r["model"]: r for r in rows if r["task"] == task and r["mode"] == mode}
            xs = [k + m * width for k, model in enumerate(models) if model in got]
            ys = [got[model]["value"] for model in models if model in got]
            ax.bar(xs, ys, width=width, label=mode)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(models))], models, rotation=20, fontsize=8)
        ax.set_title(f"{task} {METRIC_OF_TASK[task]} (avg 10..-10 dB)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    return _save(fig)
