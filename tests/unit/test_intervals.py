"""The report's intervals (issue 11.8): the basic bootstrap interval, its point, and the small-slice warning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sseu_harness.results.bootstrap import CaseClips, draw, hierarchical_mean
from sseu_harness.results.intervals import (
    MIN_CLIPS_PER_CLASS,
    attach_intervals,
    basic_interval,
    interval_warning,
)
from sseu_harness.results.records import Record, case_record, with_averages
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.cases import Case
from sseu_harness.spec.taxonomy import load_taxonomy

EVENTS = load_taxonomy().event_ids


def test_basic_interval_reflects_the_percentiles_about_the_point():
    rng = np.random.default_rng(0)
    values = 30 + 4 * rng.standard_normal(1000)
    q_low, q_high = np.percentile(values, [2.5, 97.5])
    assert basic_interval(values, 31.0) == pytest.approx((2 * 31.0 - q_high, 2 * 31.0 - q_low))


def test_replicates_above_the_point_move_the_interval_below_it():
    """The issue's demo chance AT: point 21.26, replicates mostly above it (percentile [20.46, 34.72])."""
    rng = np.random.default_rng(1)
    values = 20.46 + (34.72 - 20.46) * rng.beta(1.3, 2.5, size=1000)
    assert np.mean(values < 21.26) < 0.1
    low, high = basic_interval(values, 21.26)
    assert low < 21.26 <= high
    assert low == pytest.approx(2 * 21.26 - np.percentile(values, 97.5))


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=60), st.floats(-1e3, 1e3))
def test_the_point_is_always_inside(values, point):
    low, high = basic_interval(np.array(values), point)
    assert low <= point <= high


def test_a_degenerate_bootstrap_gives_the_point():
    assert basic_interval(np.full(200, 100.0), 100.0) == (100.0, 100.0)


@pytest.mark.parametrize(("smallest", "warned"), [(None, False), (0, True), (MIN_CLIPS_PER_CLASS - 1, True),
                                                  (MIN_CLIPS_PER_CLASS, False), (500, False)])
def test_warning_below_the_minimum_clips_per_class(smallest, warned):
    warning = interval_warning(smallest)
    assert (warning is not None) == warned
    if warned:
        assert f"{smallest} clip(s), fewer than {MIN_CLIPS_PER_CLASS}" in warning


def test_smallest_class_per_task():
    at = CaseClips.from_rows("AT", [ClipRow(item=f"c{i}", run=0, truth=truth, scores=[0.5] * len(EVENTS))
                                    for i, truth in enumerate([["dog"], ["dog", "cat"], ["dog"], []])])
    assert at.smallest_class() == 1  # cat: one positive clip; classes without a positive are not averaged
    asc = CaseClips.from_rows("ASC", [ClipRow(item=f"c{i}", run=0, truth=s, correct=True)
                                      for i, s in enumerate(["home", "home", "home", "cafe_restaurant", "cafe_restaurant"])])
    assert asc.smallest_class() == 2
    asr = CaseClips.from_rows("ASR", [ClipRow(item="c0", run=0, errors=1, ref_words=4)])
    assert asr.smallest_class() is None


def test_records_get_basic_intervals_and_averages_the_warning_of_their_smallest_case():
    rng = np.random.default_rng(2)
    snrs = ["snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf"]
    scenes = ["home"] * 12 + ["city_center"] * 12
    records, replicates, smallest = [], {}, {}
    clips_ids = [f"c{i:02d}" for i in range(len(scenes))]
    draws = draw(clips_ids, resamples=300, seed=0)
    for k, snr in enumerate(snrs):
        # the last SNR drops to 5 city-center clips: a slice too small to trust
        keep = len(scenes) if k < 5 else 17
        rows = [ClipRow(item=clips_ids[i], run=0, truth=scenes[i], correct=bool(rng.random() < 0.6))
                for i in range(keep)]
        clips = CaseClips.from_rows("ASC", rows)
        record = case_record(Case("m", "ASC", snr, "independent"), [float(clips.point()[0])], [0], keep, 0, 1.0)
        records.append(record)
        replicates[record.case] = clips.per_run(clips.weights(draws))
        smallest[record.case] = clips.smallest_class()
    out = [r.to_json() for r in attach_intervals(with_averages(records, {"ASC": snrs}), replicates, draws, smallest)]
    by_snr = {r["snr"]: r for r in out}
    for record in out:
        assert record["ci_low"] <= record["value"] <= record["ci_high"]
    first = by_snr["snr_p10"]
    q = np.percentile(replicates[first["case"]][:, 0], [2.5, 97.5])
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((2 * first["value"] - q[1], 2 * first["value"] - q[0]))
    mixed = by_snr["avg_mixed"]  # the mean of its cases' replicates under the same draws
    mean = hierarchical_mean(np.mean([replicates[by_snr[s]["case"]] for s in snrs[:5]], axis=0), draws)
    assert (mixed["ci_low"], mixed["ci_high"]) == pytest.approx(basic_interval(mean, mixed["value"]))
    assert "ci_warning" not in mixed and "ci_warning" not in first
    assert "5 clip(s)" in by_snr["snr_minf"]["ci_warning"] and "5 clip(s)" in by_snr["avg"]["ci_warning"]


def test_tables_mark_a_warned_interval_with_a_star():
    from sseu_harness.report.tables import cell

    record = Record.from_json({"model": "m", "task": "AT", "snr": "snr_0", "mode": "independent", "metric": "mAP",
                               "value": 21.26, "std": 0.0, "runs": 1, "run_values": [21.26], "n": 5,
                               "parse_failures": 0, "ci_low": 7.8, "ci_high": 22.06})
    assert cell(record) == "21.26 [7.8, 22.1]"
    assert cell(replace(record, ci_warning="few clips")) == "21.26 [7.8, 22.1]*"
