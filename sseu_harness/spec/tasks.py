"""The three tasks, each described once: its metric, the answer field it reads and its per-clip row fields.

Everything that differs by task reads it from `TASK`; the computations that
differ by task (plain and resampled metric, per-clip arrays, rarest class,
badness) sit in one table beside it, `TASK_METRIC` in `scoring/task_metrics.py`,
keyed by the task's name: `spec/` never imports `scoring/`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str  # "ASR", "ASC", "AT"
    metric: str  # "WER", "mACC", "mAP"; in percent
    lower_is_better: bool
    answer_field: str  # the field of a parsed answer the task scores (`scoring.parser.ParsedAnswer`)
    row_fields: tuple[str, ...]  # its fields of a per-clip row (`scoring.rows.ClipRow`), besides the shared ones
    truth_field: str  # the row field holding the clip's truth
    prediction_field: str  # the row field holding what was read from the answer


TASK = {
    "ASR": Task("ASR", "WER", True, "transcript", ("reference", "hypothesis", "errors", "ref_words"),
                truth_field="reference", prediction_field="hypothesis"),
    "ASC": Task("ASC", "mACC", False, "scene", ("truth", "prediction", "predicted_scene", "correct"),
                truth_field="truth", prediction_field="predicted_scene"),
    "AT": Task("AT", "mAP", False, "events", ("truth", "prediction", "scores"),
               truth_field="truth", prediction_field="prediction"),
}
TASKS = tuple(TASK)
MODES = ("independent", "joint", "cot")
