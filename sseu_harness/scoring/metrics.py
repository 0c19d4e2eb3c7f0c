"""The paper's three metrics, all in percent: WER (ASR), mACC (ASC), mAP (AT).

Each comes plain (one slice) and resampled: under bootstrap replicates given as
clip multiplicities (weights, shape (B, clips)), computed exactly as the plain
metric on the resampled slice, for every run at once (`results/bootstrap.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer
import numpy as np
from sklearn.metrics import average_precision_score

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.normalizer import Normalizer, get_normalizer


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str], normalizer: Normalizer | None = None) -> float:
    """Corpus-level WER in percent: total (S + D + I) over total reference words.

    Both sides go through the normaliser first (default: `whisper-en`), so
    punctuation, case, number and spelling forms never count as errors. Corpus-level (not a mean of per-utterance WERs) so
    that short utterances do not dominate. An empty hypothesis is a valid (all
    deletions) answer; an empty reference is a broken benchmark item.
    """
    if len(references) != len(hypotheses):
        raise ConfigError(
            f"word_error_rate got {len(references)} references but {len(hypotheses)} hypotheses; "
            "pass one hypothesis per reference (an empty string for no answer)"
        )
    if not references:
        raise ConfigError("word_error_rate got no references; score at least one utterance")
    normalizer = normalizer or get_normalizer()
    refs = [normalizer.apply(r) for r in references]
    hyps = [normalizer.apply(h) for h in hypotheses]
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ConfigError(
            f"reference(s) at position(s) {empty[:10]} are empty after normalisation "
            f"({normalizer.id}); a benchmark reference cannot be empty: fix the transcript "
            "or drop the item from the manifest"
        )
    out = jiwer.process_words(refs, hyps)
    errors = out.substitutions + out.deletions + out.insertions
    words = out.substitutions + out.deletions + out.hits
    return 100.0 * errors / words


def clip_word_errors(reference: str, hypothesis: str, normalizer: Normalizer | None = None) -> tuple[int, int]:
    """(S + D + I, reference words) of one clip after normalisation; their sums over a slice give its WER."""
    normalizer = normalizer or get_normalizer()
    out = jiwer.process_words(normalizer.apply(reference), normalizer.apply(hypothesis))
    return out.substitutions + out.deletions + out.insertions, out.substitutions + out.deletions + out.hits


def mean_accuracy(truth: Sequence[str], predicted: Sequence[str | None]) -> float:
    """Macro accuracy in percent: mean over the classes present in `truth` of per-class accuracy.

    Macro, not micro, so a frequent scene cannot hide a never-recognised one.
    A `None` prediction (no answer, unparsable) counts as wrong, never dropped.
    """
    if len(truth) != len(predicted):
        raise ConfigError(
            f"mean_accuracy got {len(truth)} true labels but {len(predicted)} predictions; "
            "pass one prediction per clip (None for no answer)"
        )
    if not truth:
        raise ConfigError("mean_accuracy got no clips; score at least one clip")
    per_class = []
    for label in sorted(set(truth)):
        hits = [p == label for t, p in zip(truth, predicted) if t == label]
        per_class.append(sum(hits) / len(hits))
    return 100.0 * float(np.mean(per_class))


def mean_average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """mAP in percent: mean over classes with at least one positive clip of the class's AP.

    Classes without a positive in this slice have no defined AP and are left
    out (rather than counted as 0 or 1), as scikit-learn's AP is undefined there.
    """
    truth = np.asarray(truth)
    scores = np.asarray(scores, dtype=np.float64)
    if truth.ndim != 2 or truth.shape != scores.shape:
        raise ConfigError(
            f"mean_average_precision needs truth and scores of the same (n_clips, n_classes) shape, "
            f"got {truth.shape} and {scores.shape}"
        )
    if not np.isin(truth, (0, 1)).all():
        raise ConfigError("mean_average_precision truth must hold only 0 and 1 (multi-hot event labels)")
    if not np.isfinite(scores).all():
        raise ConfigError("mean_average_precision scores contain NaN or inf; fix the scorer output")
    present = np.flatnonzero(truth.sum(axis=0) > 0)
    if present.size == 0:
        raise ConfigError(
            "mean_average_precision: no event class has a positive clip in this slice, so mAP is "
            "undefined; check the labels or score a larger slice"
        )
    aps = [average_precision_score(truth[:, k].astype(int), scores[:, k]) for k in present]
    return 100.0 * float(np.mean(aps))


def resampled_word_error_rate(weights: np.ndarray, errors: np.ndarray, words: np.ndarray) -> np.ndarray:
    """WER per replicate and run (B, runs): sum of errors / sum of reference words; errors (runs, clips), words (clips,)."""
    total = weights @ words
    return 100.0 * (weights @ errors.T) / total[:, None]


def resampled_mean_accuracy(weights: np.ndarray, correct: np.ndarray, scenes: np.ndarray) -> np.ndarray:
    """mACC per replicate and run (B, runs): mean over the scenes present of per-scene accuracy;
    correct (runs, clips) as 0/1, scenes (clips, scenes) one-hot."""
    totals = weights @ scenes  # (B, scenes)
    out = np.empty((weights.shape[0], correct.shape[0]))
    present = totals > 0
    for run in range(correct.shape[0]):
        hits = weights @ (scenes * correct[run][:, None])
        acc = np.divide(hits, totals, out=np.zeros_like(hits), where=present)
        out[:, run] = 100.0 * acc.sum(axis=1) / present.sum(axis=1)
    return out


def resampled_mean_average_precision(weights: np.ndarray, truth: np.ndarray, scores: np.ndarray,
                                     columns: list[int]) -> np.ndarray:
    """mAP per replicate and run (B, runs): mean over the classes with a (weighted) positive of the weighted AP.

    truth (clips, classes) 0/1 for the classes of the truth sets; scores (runs, clips, events), where class j's
    scores are column `columns[j]`. A class without a positive in a replicate is left out of its mean.
    """
    return np.stack([_resampled_map(weights, truth, scores[run], columns) for run in range(scores.shape[0])], axis=1)


def _resampled_map(weights: np.ndarray, truth: np.ndarray, scores: np.ndarray, columns: list[int]) -> np.ndarray:
    aps, valid = [], []
    for j, column in enumerate(columns):
        ap, has = weighted_average_precision(truth[:, j], scores[:, column], weights)
        aps.append(ap)
        valid.append(has)
    aps, valid = np.array(aps), np.array(valid)
    return 100.0 * np.where(valid, aps, 0).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)


def weighted_average_precision(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AP of one class under each replicate's clip weights; (ap (B,), defined (B,)).

    Same definition as scikit-learn's `average_precision_score` with
    `sample_weight`: sum over score thresholds of (R_k - R_k-1) P_k, tied
    scores forming one threshold.
    """
    order = np.argsort(-scores, kind="stable")
    y, s = truth[order], scores[order]
    w = weights[:, order]
    tp = np.cumsum(w * y, axis=1)
    seen = np.cumsum(w, axis=1)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    tp, seen = tp[:, last_of_tie], seen[:, last_of_tie]
    positives = tp[:, -1]
    precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
    recall = np.divide(tp, positives[:, None], out=np.zeros_like(tp), where=positives[:, None] > 0)
    steps = np.diff(np.concatenate([np.zeros((tp.shape[0], 1)), recall], axis=1), axis=1)
    return (steps * precision).sum(axis=1), positives > 0
