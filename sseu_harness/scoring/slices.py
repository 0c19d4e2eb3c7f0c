"""From answers of one slice to its metric: parse, score (paper eq. 1-3), measure.

Every clip stays in the denominator. A clip whose model call failed (`errors`),
whose answer cannot be parsed (`failures`) or declines (`refusals`: "I don't
know", see `refusals.py`) gets an empty prediction: an empty transcript, no
scene (never counted correct), no events (p_n = 0).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sseu_harness.adapter import Answer, ClassScores, Failure
from sseu_harness.dataset.manifest import Item
from sseu_harness.scoring.confidences import Scorer
from sseu_harness.scoring.normalizer import Normalizer
from sseu_harness.scoring.parser import parse_answer
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.scoring.task_metrics import TASK_METRIC
from sseu_harness.spec.cases import Case

MAX_STORED_ANSWER = 4_000  # characters of a raw answer kept in predictions.jsonl
FIRST_ERRORS = 3  # reasons of failed model calls quoted in a record


@dataclass(frozen=True)
class SliceResult:
    """The metric of one run of a case and its rows; what the rows count (failed calls, unparsable answers,
    refusals) is read off them by `rows.count_rows`, as `sseu merge` reads it."""

    value: float  # percent
    rows: list[ClipRow]  # one per clip, for predictions.jsonl: also the per-clip figures the bootstrap resamples
    first_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Clip:
    value: object  # the field the task needs, or None
    failure: str | None
    error: bool
    refused: bool = False


def _clip(answer: Answer | Failure, task: str, mode: str) -> _Clip:
    if isinstance(answer, Failure):
        return _Clip(None, f"error: {answer.reason}", True)
    if isinstance(answer, ClassScores):
        scores = TASK_METRIC[task].class_scores(answer)
        return _Clip(scores, None if scores is not None else "model gives no class scores", False)
    parsed = parse_answer(answer, task, mode)
    field = TASK_METRIC[task].task.answer_field
    value = getattr(parsed, field)
    if field in parsed.refused:
        return _Clip(value, None, False, refused=True)
    return _Clip(value, None if value is not None else (parsed.failure or "unparsable"), False)


def _row(case: Case, run: int, seed: int, item: Item, answer: Answer | Failure, clip: _Clip, fields: dict) -> ClipRow:
    raw = answer if isinstance(answer, str) else ("" if isinstance(answer, Failure) else "<class scores>")
    if isinstance(answer, ClassScores) and clip.value is not None:  # the model's own scores (the hearing gate)
        fields["class_scores"] = [float(v) for v in np.asarray(clip.value).ravel()]
    if len(raw) > MAX_STORED_ANSWER:  # the hearing gate compares whole answers, not their stored beginnings
        fields["answer_sha256"] = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return ClipRow(case=case.id, model=case.model, task=case.task, snr=case.snr, mode=case.mode, run=run, seed=seed,
                   item=item.id, answer=raw[:MAX_STORED_ANSWER], failure=clip.failure, refused=clip.refused, **fields)


def evaluate_slice(case: Case, run: int, seed: int, items: Sequence[Item], answers: Sequence[Answer | Failure],
                   scorer: Scorer, normalizer: Normalizer | None = None) -> SliceResult:
    """The metric of one run (`run`, `seed`) of `case` on its slice, with one row per clip."""
    clips = [_clip(a, case.task, case.mode) for a in answers]
    errors = [c.failure.removeprefix("error: ") for c in clips if c.error]
    value, figures = TASK_METRIC[case.task].score_slice(items, answers, [c.value for c in clips], scorer, normalizer)
    rows = [_row(case, run, seed, item, answer, clip, fields)
            for item, answer, clip, fields in zip(items, answers, clips, figures)]
    return SliceResult(value, rows, errors[:FIRST_ERRORS])
