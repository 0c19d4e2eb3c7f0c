"""WER, mACC and mAP in percent, checked by hand and against jiwer / scikit-learn."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.metrics import mean_accuracy, mean_average_precision, word_error_rate

# --- WER ---------------------------------------------------------------------


def test_wer_by_hand() -> None:
    # "the cat sat" -> "the cat sat down": 1 insertion; "a dog" -> "": 2 deletions; 5 reference words.
    assert word_error_rate(["the cat sat", "a dog"], ["the cat sat down", ""]) == pytest.approx(60.0)


def test_wer_is_corpus_level_not_mean_of_utterances() -> None:
    # Per-utterance WERs are 100% and 0%; their mean would be 50, the corpus WER is 1/5 = 20.
    assert word_error_rate(["cat", "dog bird fish frog"], ["hat", "dog bird fish frog"]) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("refs", "hyps"),
    [
        (["the quick brown fox"], ["the quack brown fox jumps"]),
        (["a b c d", "e f g"], ["a c d x", "e f g h i"]),
        (["please call stella", "ask her to bring these things"], ["please stella", "ask her bring these thing from"]),
        (["red green blue"], [""]),
    ],
)
def test_wer_matches_jiwer(refs: list[str], hyps: list[str]) -> None:
    # Inputs are already normalised, so jiwer on the raw lists is the reference value.
    assert word_error_rate(refs, hyps) == pytest.approx(100.0 * jiwer.wer(refs, hyps))


def test_wer_applies_the_normaliser() -> None:
    assert word_error_rate(["The CAT, sat!"], ["the cat sat"]) == 0.0
    assert word_error_rate(["Don’t go-away"], ["don't go away."]) == 0.0


def test_wer_empty_hypothesis_is_all_deletions() -> None:
    assert word_error_rate(["a b c"], [""]) == pytest.approx(100.0)
    assert word_error_rate(["a b c"], ["  ...  "]) == pytest.approx(100.0)


def test_wer_empty_reference_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        word_error_rate(["fine", " ?! "], ["fine", "anything"])


def test_wer_length_mismatch_is_refused() -> None:
    with pytest.raises(ConfigError, match="1 hypotheses"):
        word_error_rate(["a", "b"], ["a"])


# --- mACC --------------------------------------------------------------------


def test_macro_accuracy_differs_from_micro() -> None:
    truth = ["home", "home", "home", "metro"]
    predicted = ["home", "home", "home", "home"]
    # micro = 3/4 = 75; macro = mean(home 3/3, metro 0/1) = 50
    assert mean_accuracy(truth, predicted) == pytest.approx(50.0)


def test_macro_accuracy_by_hand_three_classes() -> None:
    truth = ["a", "a", "b", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a", "c"]
    assert mean_accuracy(truth, predicted) == pytest.approx(100.0 * (1 / 2 + 2 / 3 + 1) / 3)


def test_none_prediction_is_wrong() -> None:
    assert mean_accuracy(["a", "b"], ["a", None]) == pytest.approx(50.0)
    assert mean_accuracy(["a"], [None]) == 0.0


def test_only_classes_present_in_truth_count() -> None:
    # "c" is predicted but never true: it adds no class to the mean.
    assert mean_accuracy(["a", "a"], ["a", "c"]) == pytest.approx(50.0)


def test_accuracy_length_mismatch_is_refused() -> None:
    with pytest.raises(ConfigError):
        mean_accuracy(["a"], ["a", "b"])


# --- mAP ---------------------------------------------------------------------


def _ap_from_scratch(truth: np.ndarray, scores: np.ndarray) -> float:
    """AP without ties: mean over positives of the precision at that positive's rank."""
    order = np.argsort(-scores)
    ranked = truth[order]
    hits = np.cumsum(ranked)
    precision_at = hits / np.arange(1, len(ranked) + 1)
    return float(precision_at[ranked == 1].mean())


def test_map_by_hand_excludes_class_without_positives() -> None:
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.2, 0.5], [0.8, 0.7, 0.6], [0.3, 0.1, 0.7], [0.1, 0.5, 0.8]])
    # class 0: positives at ranks 1 and 3 -> (1/1 + 2/3) / 2; class 1: positive at rank 1 -> 1;
    # class 2 has no positive: excluded (not counted as 0).
    expected = 100.0 * ((1 + 2 / 3) / 2 + 1.0) / 2
    assert mean_average_precision(truth, scores) == pytest.approx(expected)
    sk = np.mean([average_precision_score(truth[:, k], scores[:, k]) for k in (0, 1)])
    assert mean_average_precision(truth, scores) == pytest.approx(100.0 * sk)


def test_map_matches_numpy_ap_from_scratch() -> None:
    rng = np.random.default_rng(3)
    truth = (rng.random((40, 5)) < 0.3).astype(int)
    truth[:, 4] = 0  # a class absent from the slice
    truth[0, :4] = 1
    scores = rng.random((40, 5))
    expected = 100.0 * np.mean([_ap_from_scratch(truth[:, k], scores[:, k]) for k in range(4)])
    assert mean_average_precision(truth, scores) == pytest.approx(expected)


def test_map_ground_truth_as_scores_is_100() -> None:
    truth = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    assert mean_average_precision(truth, truth.astype(float)) == pytest.approx(100.0)


def test_map_without_any_positive_is_refused() -> None:
    with pytest.raises(ConfigError, match="no event class has a positive"):
        mean_average_precision(np.zeros((3, 2)), np.ones((3, 2)))


def test_map_shape_mismatch_is_refused() -> None:
    with pytest.raises(ConfigError, match="shape"):
        mean_average_precision(np.zeros((3, 2)), np.ones((3, 3)))
