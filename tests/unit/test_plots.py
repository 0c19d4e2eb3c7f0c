"""Plots like the paper's Fig. 3 (issue 11.10): the SNR axis in dB, +inf and -inf at its ends."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.report.plots import against_snr_figure, plot_files, snr_positions
from sseu_harness.results.records import Record
from sseu_harness.spec.tasks import TASK

PAPER = ["snr_pinf", "snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf"]


def test_finite_snrs_sit_at_their_db_and_infinities_one_step_beyond():
    assert snr_positions(PAPER) == {"snr_pinf": 15.0, "snr_p10": 10.0, "snr_p5": 5.0, "snr_0": 0.0,
                                    "snr_m5": -5.0, "snr_m10": -10.0, "snr_minf": -15.0}
    # an uneven grid: the smallest step, so +-inf never sit closer than a grid step
    assert snr_positions(["snr_p20", "snr_p2", "snr_0", "snr_minf"]) == {"snr_p20": 20.0, "snr_p2": 2.0,
                                                                        "snr_0": 0.0, "snr_minf": -2.0}
    assert snr_positions(["snr_pinf", "snr_0", "snr_minf"]) == {"snr_pinf": 5.0, "snr_0": 0.0, "snr_minf": -5.0}


def _record(task, snr, value, mode="independent"):
    return Record.from_json({"case": f"m-{task}-{snr}-{mode}", "model": "m", "task": task, "snr": snr, "mode": mode,
                             "metric": TASK[task].metric, "value": value, "std": 0.0, "run_values": [value], "n": 1,
                             "parse_failures": 0, "ci_low": value - 1, "ci_high": value + 2, "runs": 1})


def test_the_figure_plots_against_db_with_infinite_ends():
    values = {snr: 10.0 * k for k, snr in enumerate(PAPER[1:])}  # ASC: 10 .. -inf
    fig = against_snr_figure([_record("ASC", snr, v) for snr, v in values.items()], "ASC")
    try:
        ax = fig.axes[0]
        assert list(ax.get_xticks()) == [10.0, 5.0, 0.0, -5.0, -10.0, -15.0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "5", "0", "-5", "-10", "−∞"]
        assert "dB" in ax.get_xlabel()
        left, right = ax.get_xlim()
        assert left > right  # +inf side on the left, -inf on the right, as the tables' columns
        line = ax.containers[0][0]  # the errorbar's data line
        assert list(line.get_xdata()) == [10.0, 5.0, 0.0, -5.0, -10.0, -15.0]
        assert list(line.get_ydata()) == list(values.values())
    finally:
        plt.close(fig)


def test_plot_files_are_pngs():
    records = [_record("ASR", snr, 5.0) for snr in PAPER[:-1]]
    files = plot_files(records)
    assert list(files) == ["plot_ASR_vs_snr.png"]
    assert files["plot_ASR_vs_snr.png"][:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match="unknown SNR 'snr_x'"):
        snr_positions(["snr_x"])
