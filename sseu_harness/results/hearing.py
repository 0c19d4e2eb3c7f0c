"""The hearing gate: does a model's answer depend on the audio at all?

An integration that never passes the clip on (the audio under the wrong
keyword, dropped for every sample) still gets fluent answers and plausible
scores. Every clip of a case gets the same prompt, so a model that does not
hear gives a deterministic model one answer for all of them. The gate fails a
model when every case it checked (at least `MIN_CLIPS` answered clips) got a
single distinct answer: the same text, or identical class scores. Reference
systems declare that they do not listen (`Adapter.listens`) and are not
checked. A clean-speech ASR WER of `WER_WARNING` % or more only warns: a real
model can be that bad (the paper reports over 100 % for LTU-AS).

It is computed from the per-clip prediction rows, so the plugin's controller
and `sseu merge` judge the same way, on whatever cases are present (``-k``,
shards).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sseu_harness.results.gates import GateResult
from sseu_harness.scoring.rows import ClipRow

NAME = "hearing"
MIN_CLIPS = 5  # a case with fewer answered clips says too little
WER_WARNING = 95.0  # percent, ASR at snr_pinf
CLASS_SCORES_PLACEHOLDER = "<class scores>"  # the raw answer of a class-score row (evaluation.py)


@dataclass(frozen=True)
class CaseAnswers:
    model: str
    clips: int  # answered clips (failed calls left out), most over runs
    distinct: int  # distinct answers, most over the runs with at least MIN_CLIPS answered clips

    @property
    def checked(self) -> bool:
        return self.clips >= MIN_CLIPS and self.distinct > 0


@dataclass
class HearingCheck:
    """Fed case by case (`add`), judged once at the end (`result`)."""

    listens: dict[str, bool | None]  # model label -> declared; None = unknown (a report from an older harness)
    cases: dict[str, CaseAnswers] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: dict) -> "HearingCheck":
        return cls({label: spec.get("listens") for label, spec in (meta.get("models") or {}).items()})

    def add(self, case: str, model: str, rows: list[ClipRow]) -> None:
        if not self.listens.get(model):
            return
        runs: dict[int, list] = {}
        for row in rows:
            signature = answer_signature(row)
            if signature is not None:
                runs.setdefault(int(row.run), []).append(signature)
        clips = max((len(answers) for answers in runs.values()), default=0)
        distinct = max((len(set(answers)) for answers in runs.values() if len(answers) >= MIN_CLIPS), default=0)
        self.cases[case] = CaseAnswers(model, clips, distinct)

    def result(self, records: list[dict]) -> tuple[GateResult, dict] | None:
        """(gate, figures), or None when no listening model has a case in this report."""
        models = sorted({c.model for c in self.cases.values()})
        if not models:
            return None
        figures: dict = {"min_clips": MIN_CLIPS, "wer_warning": WER_WARNING, "models": {},
                         "not_checked": sorted(m for m, listens in self.listens.items() if not listens)}
        failed, passed, warnings = [], [], []
        for model in models:
            cases = {case: c for case, c in sorted(self.cases.items()) if c.model == model}
            checked = [c for c in cases.values() if c.checked]
            single = [c for c in checked if c.distinct == 1]
            deaf = bool(checked) and len(single) == len(checked)
            wer = {r["mode"]: r["value"] for r in records
                   if "case" in r and r["model"] == model and r["task"] == "ASR" and r["snr"] == "snr_pinf"}
            figures["models"][model] = {
                "cases": {case: {"clips": c.clips, "distinct_answers": c.distinct} for case, c in cases.items()},
                "cases_checked": len(checked), "single_answer_cases": len(single), "passed": not deaf,
                "asr_wer_snr_pinf": wer,
            }
            if deaf:
                failed.append(f"{model}: its answers do not depend on the audio: 1 distinct answer for "
                              f"{_clip_span(single)} clips in {len(single)} of {len(checked)} cases")
            elif checked:
                passed.append(f"{model}: answers vary with the audio in {len(checked) - len(single)} of "
                              f"{len(checked)} cases")
            else:
                passed.append(f"{model}: no case with at least {MIN_CLIPS} answered clips, nothing to judge")
            for mode, value in sorted(wer.items()):
                if value >= WER_WARNING:
                    warnings.append(f"{model}: ASR WER at snr_pinf is {value:.1f} % ({mode}), at least "
                                    f"{WER_WARNING:g} %: check that the clip reaches the model")
        figures["warnings"] = warnings
        if failed:
            message = ("; ".join(failed) + ". Check that the clip reaches the model (e.g. the keyword the audio "
                       "is passed under), or turn this check off with --sseu-no-hearing-check")
        else:
            message = "; ".join(passed)
        if warnings:
            message += ". Warning: " + "; ".join(warnings)
        return GateResult(NAME, not failed, message), figures


def answer_signature(row: ClipRow) -> tuple | None:
    """What makes two answers the same: the raw text, or the class scores; None for a failed call."""
    if row.is_error:
        return None
    if row.class_scores is not None:
        return ("scores", tuple(row.class_scores))
    if row.answer_sha256:  # an answer longer than the stored part
        return ("text-sha256", row.answer_sha256)
    if row.answer == CLASS_SCORES_PLACEHOLDER:
        return None  # a report written before rows kept the scores: cannot tell
    return ("text", row.answer)


def _clip_span(cases: list[CaseAnswers]) -> str:
    low, high = min(c.clips for c in cases), max(c.clips for c in cases)
    return str(low) if low == high else f"{low}-{high}"
