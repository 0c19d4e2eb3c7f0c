"""Answers for a case's clips: from the prediction store where present, else from the model.

The model is asked in batches; every batch's answers are stored before the
next batch starts, so a crash loses at most one batch. A batch that raises is
retried clip by clip, so one bad clip cannot sink its neighbours; a clip that
still raises, or a call that outlives the timeout, becomes a `Failure` with
its reason. Failures are not stored: a rerun retries them.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

from .adapter import Adapter, Answer, Failure, Request
from .cases import Case
from .errors import SSEUError
from .manifest import Item
from .mixer import MIXER_VERSION, Mixer
from .store import PredictionStore, answer_key, canonical_json

Progress = Callable[[int, int], None]
MAX_REASON = 500
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


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


class AnswerSource:
    def __init__(self, mixer: Mixer, store: PredictionStore | None, timeout: float | None = None,
                 rescore: bool = False) -> None:
        self.mixer = mixer
        self.store = store
        self.timeout = timeout
        self.rescore = rescore

    def answers(self, slot: ModelSlot, items: Sequence[Item], case: Case, prompt: str, seed: int,
                progress: Progress | None = None) -> CaseAnswers:
        identities = [self._identity(slot, item, case, prompt, seed) for item in items]
        keys = [answer_key(identity) for identity in identities]
        stored = self.store.get_many(keys) if self.store else {}
        todo = [k for k, key in enumerate(keys) if key not in stored]
        if todo and self.rescore:
            raise SSEUError(
                f"{len(todo)} of {len(items)} answers of {case.id} are not in the prediction store "
                f"(first: {items[todo[0]].id}); run without --sseu-rescore to compute them"
            )
        answers: list[Answer | Failure | None] = [stored.get(key) for key in keys]
        done = len(items) - len(todo)
        if progress and done:
            progress(done, len(items))
        if todo:
            adapter = slot.load()
            size = max(1, adapter.batch_size)
            task = case.task if case.mode == "independent" else None
            for start in range(0, len(todo), size):
                batch = todo[start : start + size]
                requests = [Request(items[k], self.mixer.waveform(items[k], case.snr_db, adapter.sample_rate),
                                    prompt, task, case.mode, seed) for k in batch]
                results = self._ask(adapter, requests)
                for k, result in zip(batch, results):
                    answers[k] = result
                if self.store:
                    self.store.put_many([(keys[k], identities[k], answers[k]) for k in batch
                                         if not isinstance(answers[k], Failure)])
                done += len(batch)
                if progress:
                    progress(done, len(items))
        return CaseAnswers(answers, len(items) - len(todo))  # type: ignore[arg-type]

    def _identity(self, slot: ModelSlot, item: Item, case: Case, prompt: str, seed: int) -> dict:
        return {
            "model": slot.label,
            "adapter": slot.identity,
            "prompt": _sha256(prompt),
            "item": item.id,
            "item_row": _sha256(canonical_json(item.to_json())),
            "snr": case.snr,
            "mixer": MIXER_VERSION,
            "mode": case.mode,
            "task": case.task if case.mode == "independent" else None,
            "seed": seed,  # also for greedy models: whether a model samples can hinge on its settings
        }

    def _ask(self, adapter: Adapter, requests: list[Request]) -> list[Answer | Failure]:
        try:
            out = self._call(adapter, requests)
        except Exception as exc:  # noqa: BLE001 - a model's failure is data, not a crash
            if len(requests) == 1:
                return [Failure(_reason(exc))]
            return [self._ask(adapter, [r])[0] for r in requests]
        if len(out) != len(requests):
            raise SSEUError(f"adapter {adapter.name} returned {len(out)} answers for {len(requests)} requests")
        return out

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


def _reason(exc: BaseException) -> str:
    """The exception as one line, with the values of secret-looking environment variables removed."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= 8:
            text = text.replace(value, "<redacted>")
    return text[:MAX_REASON]


class SharedAnswers:
    """Answers of joint and CoT modes, computed once per (group, seed) and shared by the three task cases.

    The scheduler keeps a group's cases on one worker and adjacent, so a small
    LRU suffices; an evicted group is looked up again (in the store), never wrong.
    """

    def __init__(self, capacity: int = 3) -> None:
        self._store: OrderedDict[tuple[str, int], CaseAnswers] = OrderedDict()
        self._capacity = capacity

    def get(self, case: Case, seed: int, compute: Callable[[], CaseAnswers]) -> CaseAnswers:
        if case.mode == "independent":
            return compute()
        key = (case.group, seed)
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key]
        answers = compute()
        self._store[key] = answers
        if len(self._store) > self._capacity:
            self._store.popitem(last=False)
        return answers
