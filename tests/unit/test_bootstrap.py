"""The bootstrap: weighted metrics equal scikit-learn / jiwer on resampled slices; intervals behave."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from sseu_harness.results.bootstrap import CaseClips, draw, interval
from sseu_harness.results.gates import pair
from sseu_harness.scoring.metrics import mean_accuracy, mean_average_precision, weighted_average_precision
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.taxonomy import load_taxonomy

EVENTS = load_taxonomy().event_ids


@pytest.mark.parametrize("seed", range(5))
def test_weighted_ap_is_sklearn_ap_with_sample_weights(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 40)
    truth[0] = 1
    scores = np.round(rng.random(40), 1)  # ties on purpose
    weights = rng.integers(0, 3, size=(4, 40)).astype(float)
    weights[:, 0] = 1
    ap, defined = weighted_average_precision(truth, scores, weights)
    for b in range(4):
        assert ap[b] == pytest.approx(average_precision_score(truth, scores, sample_weight=weights[b]))
    assert defined.all()


def _rows_at(truths, scores_by_run):
    return [ClipRow(item=f"c{i}", run=r, truth=truths[i], scores=list(scores_by_run[r][i]))
            for r in range(len(scores_by_run)) for i in range(len(truths))]


def test_a_replicate_equals_the_metric_of_the_resampled_slice():
    rng = np.random.default_rng(1)
    truths = [[EVENTS[k] for k in rng.choice(18, 2, replace=False)] for _ in range(12)]
    scores = [rng.random((12, 18))]
    clips = CaseClips.from_rows("AT", _rows_at(truths, scores))
    draws = draw(clips.clips, resamples=20, seed=3)
    values = clips.per_run(clips.weights(draws))[:, 0]
    for b in range(20):
        picks = np.repeat(np.arange(12), draws.weights[b, [draws.universe[c] for c in clips.clips]].astype(int))
        order = [int(c[1:]) for c in clips.clips]  # clips are sorted by id
        truth = np.array([[e in truths[order[p]] for e in EVENTS] for p in picks], dtype=int)
        assert values[b] == pytest.approx(mean_average_precision(truth, scores[0][[order[p] for p in picks]]))


def test_asc_and_asr_replicates_match_the_plain_metrics():
    scenes = ["home", "home", "city_center", "metro_station", "city_center", "home"]
    correct = [True, False, True, False, False, True]
    asc = CaseClips.from_rows("ASC", [ClipRow(item=f"c{i}", run=0, truth=s, correct=c)
                                      for i, (s, c) in enumerate(zip(scenes, correct))])
    predicted = [s if c else None for s, c in zip(scenes, correct)]
    assert asc.point()[0] == pytest.approx(mean_accuracy(scenes, predicted))
    asr = CaseClips.from_rows("ASR", [ClipRow(item=f"c{i}", run=0, errors=e, ref_words=w)
                                      for i, (e, w) in enumerate([(1, 5), (0, 3), (4, 4)])])
    assert asr.point()[0] == pytest.approx(100 * 5 / 12)


def test_runs_are_resampled_and_intervals_cover_the_point():
    rows = [ClipRow(item=f"c{i}", run=r, errors=(i + r) % 3, ref_words=4) for r in range(3) for i in range(30)]
    clips = CaseClips.from_rows("ASR", rows)
    draws = draw(clips.clips, resamples=500, seed=0)
    values = clips.values(draws)
    low, high = interval(values)
    assert low < clips.point().mean() < high
    again = clips.values(draw(clips.clips, resamples=500, seed=0))
    assert np.array_equal(values, again)  # seeded: reproducible


def test_each_side_draws_its_runs_from_its_own_count():
    """A 3-run baseline against a 1-run session: the baseline's replicates draw all three of its runs evenly."""
    def asr(runs, errors_of_run):
        return CaseClips.from_rows("ASR", [ClipRow(item=f"c{i}", run=r, errors=errors_of_run(r), ref_words=4)
                                           for r in range(runs) for i in range(40)])

    session = asr(1, lambda r: 1)  # WER 25 % on every clip
    baseline = asr(3, lambda r: r * 1)  # runs at WER 0, 25 and 50 %: mean 25 %
    draws = draw(session.clips, resamples=3000, seed=0)
    counts = np.bincount(draws.run_choice(3).ravel(), minlength=3) / draws.run_choice(3).size
    np.testing.assert_allclose(counts, [1 / 3] * 3, atol=0.01)
    assert np.array_equal(draws.run_choice(3), draws.run_choice(3))  # one stream per count: paired across cases
    values = baseline.values(draws)
    assert abs(values.mean() - 25.0) < 1.0  # run 0 alone would give 0 in every replicate
    assert set(np.unique(values)) <= {100 * k / 12 for k in range(13)}  # the mean of 3 drawn runs, nothing else
    paired = pair("x-ASR-snr_0-independent", session, baseline, draws)
    assert paired.worsening == pytest.approx(0.0)
    assert paired.low < 0.0 < paired.high  # the baseline's run-to-run spread shows up in the interval
