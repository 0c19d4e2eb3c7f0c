"""Answers for a case's clips: from the prediction store where present, else from the model.

The model is asked through a `Pipeline` (pipeline.py): the cases a process
will run are planned ahead, their clips mixed in a bounded prefetch and sent
as a continuous stream, and answers stored as they arrive, so a crash loses at
most the calls in flight and one commit interval. A batch that raises is
retried clip by clip, so one bad clip cannot sink its neighbours; a clip that
still raises, or a call that outlives the timeout, becomes a `Failure` with
its reason. Failures are not stored: a rerun retries them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from sseu_harness.adapter import Adapter, Answer, ClassScores, Failure, Request
from sseu_harness.dataset.manifest import Item
from sseu_harness.dataset.mixer import MIXER_VERSION, Mixer
from sseu_harness.errors import ModelGaveUp, SSEUError
from sseu_harness.redaction import failure_reason
from sseu_harness.run.pipeline import Job, Pipeline
from sseu_harness.run.store import PredictionStore, answer_key, canonical_json
from sseu_harness.spec.cases import Case
from sseu_harness.spec.prompts import hashed

Progress = Callable[[int, int], None]


@dataclass
class ModelSlot:
    """A model as the inference stage sees it: declared facts now, the loaded adapter on demand."""

    label: str
    factory: type[Adapter]
    identity: dict
    load: Callable[[], Adapter]


@dataclass(frozen=True)
class CaseAnswers:
    answers: list[Answer | Failure]
    from_store: int  # clips whose answer came from the store
    model_seconds: float = 0.0  # model time charged to this reader (docs/performance.md)


class AnswerSource:
    def __init__(self, mixer: Mixer, store: PredictionStore | None, timeout: float | None = None,
                 rescore: bool = False) -> None:
        self.mixer = mixer
        self.store = store
        self.timeout = timeout
        self.rescore = rescore
        self.pipeline = Pipeline(self)
        self._item_rows: dict[int, tuple[Item, str]] = {}
        self._prompts: dict[str, str] = {}

    def plan(self, slot: ModelSlot, items: Sequence[Item], case: Case, prompt: str, seed: int) -> Job:
        """Announce a case-run this process will run: its missing answers start streaming when its model runs."""
        return self.pipeline.plan(slot, items, case, prompt, seed)

    def answers(self, slot: ModelSlot, items: Sequence[Item], case: Case, prompt: str, seed: int,
                progress: Progress | None = None) -> CaseAnswers:
        job = self.pipeline.run(self.plan(slot, items, case, prompt, seed), progress)
        seconds = 0.0 if job.charged else job.model_seconds
        job.charged = True
        return CaseAnswers(list(job.answers), job.from_store, seconds)  # type: ignore[arg-type]

    def new_job(self, slot: ModelSlot, items: Sequence[Item], case: Case, prompt: str, seed: int, order: int) -> Job:
        """A job with its keys and stored answers; `todo` holds the clips to ask the model for."""
        keys = [answer_key(self._identity(slot, item, case, prompt, seed)) for item in items]
        stored = self.store.get_many(keys) if self.store else {}
        todo = [k for k, key in enumerate(keys) if key not in stored]
        job = Job(slot, items, case, prompt, seed, keys, [stored.get(key) for key in keys], todo,
                  len(items) - len(todo), order, unanswered=len(todo), remaining=len(todo))
        if todo and self.rescore:
            job.error = SSEUError(
                f"{len(todo)} of {len(items)} answers of {case.id} are not in the prediction store "
                f"(first: {items[todo[0]].id}); run without --sseu-rescore to compute them"
            )
        return job

    def identity_of(self, job: Job, k: int) -> dict:
        return self._identity(job.slot, job.items[k], job.case, job.prompt, job.seed)

    def close(self) -> None:
        """Let calls in flight finish (up to the call timeout, at most 30 s) and store their answers."""
        self.pipeline.close(min(self.timeout or 30.0, 30.0))

    def _identity(self, slot: ModelSlot, item: Item, case: Case, prompt: str, seed: int) -> dict:
        return {
            "model": slot.label,
            "adapter": slot.identity,
            "prompt": self._prompt_hash(prompt),
            "item": item.id,
            "item_row": self._item_row(item),
            "snr": case.snr,
            "mixer": MIXER_VERSION,
            "mode": case.mode,
            "task": case.task if case.mode == "independent" else None,
            "seed": seed,  # also for greedy models: whether a model samples can hinge on its settings
        }

    def _prompt_hash(self, prompt: str) -> str:
        text = hashed(prompt)  # the text alone, or with the prompt's system turn
        if text not in self._prompts:
            self._prompts[text] = _sha256(text)
        return self._prompts[text]

    def _item_row(self, item: Item) -> str:
        """SHA-256 of an item's manifest row, computed once per item object (it is hashed for every case)."""
        known = self._item_rows.get(id(item))
        if known is None or known[0] is not item:
            known = self._item_rows[id(item)] = (item, _sha256(canonical_json(item.to_json())))
        return known[1]

    def ask(self, adapter: Adapter, requests: list[Request]) -> list[Answer | Failure]:
        try:
            out = self._call(adapter, requests)
        except ModelGaveUp:
            raise  # the model cannot answer any more: its engine fails the rest at once
        except Exception as exc:  # noqa: BLE001 - a model's failure is data, not a crash
            if len(requests) == 1:
                return [Failure(failure_reason(exc))]
            return [self.ask(adapter, [r])[0] for r in requests]
        if len(out) != len(requests):
            raise SSEUError(f"adapter {adapter.name} returned {len(out)} answers for {len(requests)} requests")
        # an answer the store cannot keep fails its clip here, not the commit of every clip written with it
        return [a if isinstance(a, (str, ClassScores)) else
                Failure(f"TypeError: adapter {adapter.name} answered {type(a).__name__}, not text or ClassScores")
                for a in out]

    def _call(self, adapter: Adapter, requests: list[Request]) -> list[Answer]:
        if self.timeout is None:
            return adapter.answer(requests)
        box: dict[str, object] = {}

        def target() -> None:
            try:
                box["out"] = adapter.answer(requests)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"sseu-{adapter.name}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():  # the call is abandoned; its thread ends with the process
            raise TimeoutError(f"no answer within {self.timeout:g} s (--sseu-timeout)")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["out"]  # type: ignore[return-value]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
