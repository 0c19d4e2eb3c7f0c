"""The clips of a case worth reading: failed calls, refusals, unparsable answers and the worst-scored.

A clip is listed once, with every reason that applies, at most `LIMIT` per
case: failed calls first, then refusals, unparsable answers, and the worst
clips by the task's own badness (`TaskMetric.badness`, `scoring/task_metrics.py`):

* ASR: the clip's WER (word errors / reference words), highest first;
* ASC: a wrong scene;
* AT: how many true classes are ranked below, or tied with, a false one
  (ties separate nothing, so an answer naming no event counts every true class).

Rows of reports from before refusals were counted still render (`ClipRow` gives missing fields their defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sseu_harness.scoring.rows import ClipRow
from sseu_harness.scoring.task_metrics import TASK_METRIC

LIMIT = 50
KINDS = ("error", "refusal", "parse failure", "worst")


@dataclass(frozen=True)
class Clip:
    row: ClipRow
    reasons: tuple[str, ...]
    badness: float  # the task's measure of how wrong the clip is (0 = right)


@dataclass(frozen=True)
class CaseDrill:
    case: str
    task: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> clips of that kind in the case (all runs)
    clips: list[Clip] = field(default_factory=list)  # at most LIMIT


def badness(task: str, row: ClipRow, event_ids: list[str]) -> float:
    """How wrong a clip is, in the task's terms; 0 for a right answer."""
    return TASK_METRIC[task].badness(row, event_ids)


def drill(case: str, task: str, rows: list[ClipRow], event_ids: list[str], limit: int = LIMIT) -> CaseDrill:
    clips = []
    counts = dict.fromkeys(KINDS, 0)
    for row in rows:
        reasons = []
        if row.is_error:
            reasons.append("error")
        elif row.refused:
            reasons.append("refusal")
        elif row.failure:
            reasons.append("parse failure")
        bad = badness(task, row, event_ids)
        if bad > 0:
            reasons.append("worst")
        for reason in reasons:
            counts[reason] += 1
        if reasons:
            clips.append(Clip(row, tuple(reasons), bad))
    clips.sort(key=lambda c: (KINDS.index(c.reasons[0]), -c.badness, c.row.run, c.row.item))
    return CaseDrill(case, task, counts, clips[:limit])
