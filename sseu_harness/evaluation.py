"""From answers of one slice to its metric: parse, score (paper eq. 1-3), measure.

An answer that cannot be parsed becomes an empty prediction and is scored as
wrong; it stays in the denominator and is counted in ``failures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .adapter import Answer, ClassScores
from .manifest import Item
from .metrics import mean_accuracy, mean_average_precision, word_error_rate
from .parser import parse_answer
from .scoring import Scorer

MAX_STORED_ANSWER = 4_000  # characters of a raw answer kept in predictions.jsonl


@dataclass(frozen=True)
class SliceResult:
    value: float  # percent
    failures: int
    rows: list[dict]  # one per clip, for predictions.jsonl


def evaluate_slice(task: str, mode: str, items: Sequence[Item], answers: Sequence[Answer], scorer: Scorer) -> SliceResult:
    if task == "ASR":
        return _asr(mode, items, answers)
    if task == "ASC":
        return _asc(mode, items, answers, scorer)
    return _at(mode, items, answers, scorer)


def _parse(answer: Answer, task: str, mode: str):
    if isinstance(answer, ClassScores):
        return None
    return parse_answer(answer, task, mode)


def _row(item: Item, answer: Answer, failure: str | None, **fields) -> dict:
    raw = answer if isinstance(answer, str) else "<class scores>"
    return {"item": item.id, "answer": raw[:MAX_STORED_ANSWER], "failure": failure, **fields}


def _asr(mode: str, items: Sequence[Item], answers: Sequence[Answer]) -> SliceResult:
    hyps, rows, failures = [], [], 0
    for item, answer in zip(items, answers):
        parsed = _parse(answer, "ASR", mode)
        transcript = parsed.transcript if parsed else None
        failure = None if transcript is not None else (parsed.failure if parsed else "model gives no transcript")
        failures += failure is not None
        hyps.append(transcript or "")
        rows.append(_row(item, answer, failure, reference=item.speech.transcript, hypothesis=transcript))
    value = word_error_rate([i.speech.transcript for i in items], hyps)
    return SliceResult(value, failures, rows)


def _asc(mode: str, items: Sequence[Item], answers: Sequence[Answer], scorer: Scorer) -> SliceResult:
    parsed = [_parse(a, "ASC", mode) for a in answers]
    texts = [p.scene if p else None for p in parsed]
    from_text = scorer.scene_confidences_many(texts)
    predicted, rows, failures = [], [], 0
    for k, (item, answer, p) in enumerate(zip(items, answers, parsed)):
        conf = answer.scenes if isinstance(answer, ClassScores) else from_text[k]
        failure = None
        if conf is None:
            conf, failure = np.zeros(len(scorer.taxonomy.scenes)), "model gives no scene scores"
        elif p is not None and p.scene is None:
            failure = p.failure or "no scene"
        failures += failure is not None
        scene_id = scorer.predicted_scene_id(conf)
        predicted.append(scene_id)
        rows.append(_row(item, answer, failure, truth=item.background.scene, prediction=texts[k], predicted_scene=scene_id))
    value = mean_accuracy([i.background.scene for i in items], predicted)
    return SliceResult(value, failures, rows)


def _at(mode: str, items: Sequence[Item], answers: Sequence[Answer], scorer: Scorer) -> SliceResult:
    event_ids = scorer.taxonomy.event_ids
    parsed = [_parse(a, "AT", mode) for a in answers]
    lists = [list(p.events) if p and p.events is not None else None for p in parsed]
    from_text = scorer.event_confidences_many(lists)
    truth = np.zeros((len(items), len(event_ids)), dtype=np.int8)
    scores = np.zeros((len(items), len(event_ids)))
    rows, failures = [], 0
    for k, (item, answer, p) in enumerate(zip(items, answers, parsed)):
        for label in item.background.event_labels:
            truth[k, event_ids.index(label)] = 1
        conf = answer.events if isinstance(answer, ClassScores) else from_text[k]
        failure = None
        if conf is None:
            conf, failure = np.zeros(len(event_ids)), "model gives no event scores"
        elif p is not None and p.events is None:
            failure = p.failure or "no events"
        failures += failure is not None
        scores[k] = conf
        rows.append(_row(item, answer, failure, truth=list(item.background.event_labels), prediction=lists[k]))
    value = mean_average_precision(truth, scores)
    return SliceResult(value, failures, rows)
