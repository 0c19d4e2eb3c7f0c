"""One clip's answer and figures in one run of a case: a line of predictions.jsonl.

Built in one place (`scoring/slices.py`); the bootstrap, the hearing gate, the
drill-down, the viewer and the report read it back. Its JSON line keeps the
shared fields, the task's own fields (`Task.row_fields`, null when unknown) and
`class_scores` / `answer_sha256` only when set. Every field has a default so
rows of reports written before a field existed still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from sseu_harness.spec.tasks import TASK

_SHARED = ("case", "model", "task", "snr", "mode", "run", "seed", "item", "answer", "failure", "refused")
_OPTIONAL = ("class_scores", "answer_sha256")  # in the line only when set


@dataclass(frozen=True, kw_only=True)
class ClipRow:
    case: str = ""
    model: str = ""
    task: str = ""
    snr: str = ""
    mode: str = ""
    run: int = 0
    seed: int = 0
    item: str = ""
    answer: str = ""  # the raw answer's first MAX_STORED_ANSWER characters; "<class scores>" for class scores
    failure: str | None = None  # "error: ..." for a failed call, else why the answer could not be parsed
    refused: bool = False
    # ASR
    reference: str | None = None
    hypothesis: str | None = None
    errors: int | None = None  # S + D + I after normalisation
    ref_words: int | None = None
    # ASC: truth and prediction are scene names; AT: lists of event labels
    truth: str | list[str] | None = None
    prediction: str | list[str] | None = None
    predicted_scene: str | None = None
    correct: bool | None = None
    scores: list[float] | None = None  # AT: one confidence per taxonomy event
    # set only for class-score answers and for answers longer than the stored part
    class_scores: list[float] | None = None
    answer_sha256: str | None = None

    @property
    def is_error(self) -> bool:
        """The model call failed (no answer at all)."""
        return (self.failure or "").startswith("error: ")

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in (*_SHARED, *TASK[self.task].row_fields)}
        data.update((name, getattr(self, name)) for name in _OPTIONAL if getattr(self, name) is not None)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> "ClipRow":
        data = json.loads(line)
        return cls(**{name: data[name] for name in _FIELDS if name in data})


_FIELDS = tuple(f.name for f in fields(ClipRow))


@dataclass(frozen=True)
class RowCounts:
    """What a case's record counts over its runs, read off its rows: the plugin's record and `sseu merge`'s
    check of a stored one both come from here (`count_rows`)."""

    clips: int  # clips per run
    runs: int
    parse_failures: int  # empty or unparsable answers (a failed call is not one)
    errors: int  # failed model calls
    refusals: int  # answers that declined


def count_rows(rows: list[ClipRow]) -> RowCounts:
    return RowCounts(
        clips=len({row.item for row in rows}),
        runs=len({row.run for row in rows}),
        parse_failures=sum(row.failure is not None and not row.is_error for row in rows),
        errors=sum(row.is_error for row in rows),
        refusals=sum(bool(row.refused) for row in rows),
    )
