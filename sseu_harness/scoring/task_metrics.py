"""How each task is scored, in one table: `TASK_METRIC[name]`.

A `TaskMetric` holds the task's description (`spec/tasks.py`) and every
computation that differs by task: the plain metric of a slice with its
per-clip figures (`scoring/slices.py`), the per-clip arrays read back from
predictions.jsonl rows, the metric resampled over those arrays and the size
of the rarest class (`results/bootstrap.py`), and a clip's badness (the
drill-down, `report/drilldown.py`). The metric formulas are in `metrics.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sseu_harness.adapter import ClassScores
from sseu_harness.scoring.metrics import (
    clip_word_errors,
    mean_accuracy,
    mean_average_precision,
    resampled_mean_accuracy,
    resampled_mean_average_precision,
    resampled_word_error_rate,
    word_error_rate,
)
from sseu_harness.scoring.normalizer import Normalizer, get_normalizer
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.tasks import TASK, Task
from sseu_harness.spec.taxonomy import load_taxonomy

if TYPE_CHECKING:  # types only: the confidence scorer's imports are heavy, and the bootstrap and report need none
    from sseu_harness.adapter import Answer, Failure
    from sseu_harness.dataset.manifest import Item
    from sseu_harness.scoring.confidences import Scorer

Stats = dict[str, np.ndarray]  # a case's per-clip arrays over its runs, named by the task


@dataclass(frozen=True)
class TaskMetric:
    task: Task
    class_scores: Callable[[ClassScores], np.ndarray | None]  # the scores a class-score answer gives the task
    # (items, answers, the value read from each answer, scorer, normaliser) -> (plain metric, per-clip row fields)
    score_slice: Callable[[Sequence[Item], Sequence[Answer | Failure], list[object], Scorer, Normalizer | None],
                          tuple[float, list[dict]]]
    # (rows, clip ids in column order, clip id -> column, run -> row of the arrays, runs) -> per-clip arrays
    clip_stats: Callable[[list[ClipRow], list[str], dict[str, int], dict[int, int], int], Stats]
    resampled: Callable[[np.ndarray, Stats], np.ndarray]  # (weights (B, clips), arrays) -> metric (B, runs)
    smallest_class: Callable[[Stats], int | None]  # clips of the rarest class the metric averages over
    badness: Callable[[ClipRow, list[str]], float]  # how wrong a clip is (0 = right), given the event ids


# ASR: word error rate

def _asr_score(items, answers, values, scorer: Scorer, normalizer: Normalizer | None) -> tuple[float, list[dict]]:
    normalizer = normalizer or get_normalizer()
    hyps = [v or "" for v in values]
    figures = []
    for item, value, hyp in zip(items, values, hyps):
        errors, words = clip_word_errors(item.speech.transcript, hyp, normalizer)
        figures.append(dict(reference=item.speech.transcript, hypothesis=value, errors=errors, ref_words=words))
    return word_error_rate([i.speech.transcript for i in items], hyps, normalizer), figures


def _asr_stats(rows: list[ClipRow], clips: list[str], col: dict[str, int], pos: dict[int, int], runs: int) -> Stats:
    errors, words = np.zeros((runs, len(clips))), np.zeros(len(clips))
    for r in rows:
        errors[pos[r.run], col[r.item]] = r.errors
        words[col[r.item]] = r.ref_words
    return {"errors": errors, "words": words}


def _asr_badness(row: ClipRow, event_ids: list[str]) -> float:
    words = row.ref_words or 0
    return (row.errors or 0) / words if words else float(bool(row.errors))


# ASC: mean accuracy over scenes

def _asc_score(items, answers, values, scorer: Scorer, normalizer: Normalizer | None) -> tuple[float, list[dict]]:
    texts = [v if isinstance(v, str) else None for v in values]
    from_text = scorer.scene_confidences_many(texts)
    predicted, figures = [], []
    for k, (item, answer, value) in enumerate(zip(items, answers, values)):
        conf = np.asarray(value) if isinstance(answer, ClassScores) and value is not None else from_text[k]
        scene = scorer.predicted_scene_id(conf)
        predicted.append(scene)
        figures.append(dict(truth=item.background.scene, prediction=texts[k], predicted_scene=scene,
                            correct=scene == item.background.scene))
    return mean_accuracy([i.background.scene for i in items], predicted), figures


def _asc_stats(rows: list[ClipRow], clips: list[str], col: dict[str, int], pos: dict[int, int], runs: int) -> Stats:
    correct, scenes = np.zeros((runs, len(clips))), {}
    for r in rows:
        correct[pos[r.run], col[r.item]] = bool(r.correct)
        scenes[r.item] = r.truth
    names = sorted(set(scenes.values()))
    onehot = np.array([[scenes[c] == s for s in names] for c in clips], dtype=np.float64)
    return {"correct": correct, "scene": onehot}


# AT: mean average precision over event classes

def _at_score(items, answers, values, scorer: Scorer, normalizer: Normalizer | None) -> tuple[float, list[dict]]:
    event_ids = scorer.taxonomy.event_ids
    lists = [list(v) if isinstance(v, tuple) else None for v in values]
    from_text = scorer.event_confidences_many(lists)
    truth = np.zeros((len(items), len(event_ids)), dtype=np.int8)
    scores = np.zeros((len(items), len(event_ids)))
    figures = []
    for k, (item, answer, value) in enumerate(zip(items, answers, values)):
        truth[k, [event_ids.index(label) for label in item.background.event_labels]] = 1
        if isinstance(answer, ClassScores) and value is not None:
            scores[k] = value
        else:
            scores[k] = from_text[k]
        figures.append(dict(truth=list(item.background.event_labels), prediction=lists[k],
                            scores=[float(v) for v in scores[k]]))
    return mean_average_precision(truth, scores), figures


def _at_stats(rows: list[ClipRow], clips: list[str], col: dict[str, int], pos: dict[int, int], runs: int) -> Stats:
    first = rows[0].scores
    scores, truth_sets = np.zeros((runs, len(clips), len(first))), {}
    for r in rows:
        scores[pos[r.run], col[r.item]] = r.scores
        truth_sets[r.item] = r.truth
    labels = sorted({label for t in truth_sets.values() for label in t})
    truth = np.array([[label in truth_sets[c] for label in labels] for c in clips], dtype=np.float64)
    return {"truth": truth, "scores": scores, "labels": np.array(labels, dtype=object)}


def _at_resampled(weights: np.ndarray, stats: Stats) -> np.ndarray:
    index = {e: k for k, e in enumerate(load_taxonomy().event_ids)}
    columns = [index[label] for label in stats["labels"]]
    return resampled_mean_average_precision(weights, stats["truth"], stats["scores"], columns)


def _at_badness(row: ClipRow, event_ids: list[str]) -> float:
    """True classes ranked below, or tied with, a false one (ties separate nothing)."""
    scores = row.scores or []
    if len(scores) != len(event_ids):
        return 0.0
    truth = set(row.truth or [])
    true_scores = [s for label, s in zip(event_ids, scores) if label in truth]
    false_scores = [s for label, s in zip(event_ids, scores) if label not in truth]
    top_false = max(false_scores, default=float("-inf"))
    return float(sum(s <= top_false for s in true_scores))


TASK_METRIC = {
    "ASR": TaskMetric(
        TASK["ASR"],
        class_scores=lambda answer: answer.events,  # no class-score model answers ASR; kept as it always was
        score_slice=_asr_score,
        clip_stats=_asr_stats,
        resampled=lambda weights, s: resampled_word_error_rate(weights, s["errors"], s["words"]),
        smallest_class=lambda s: None,  # WER has no classes
        badness=_asr_badness,
    ),
    "ASC": TaskMetric(
        TASK["ASC"],
        class_scores=lambda answer: answer.scenes,
        score_slice=_asc_score,
        clip_stats=_asc_stats,
        resampled=lambda weights, s: resampled_mean_accuracy(weights, s["correct"], s["scene"]),
        smallest_class=lambda s: int(s["scene"].sum(axis=0).min()),
        badness=lambda row, event_ids: 0.0 if row.correct else 1.0,
    ),
    "AT": TaskMetric(
        TASK["AT"],
        class_scores=lambda answer: answer.events,
        score_slice=_at_score,
        clip_stats=_at_stats,
        resampled=_at_resampled,
        smallest_class=lambda s: int(s["truth"].sum(axis=0).min()) if s["truth"].size else 0,  # classes with a positive
        badness=_at_badness,
    ),
}
