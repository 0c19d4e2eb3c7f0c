"""Feeding mixtures and prompts to an adapter in batches, one answer per clip."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Sequence

from .adapter import Adapter, Answer, Request
from .cases import Case
from .errors import SSEUError
from .manifest import Item
from .mixer import Mixer

Progress = Callable[[int, int], None]


def run_inference(
    adapter: Adapter,
    mixer: Mixer,
    items: Sequence[Item],
    case: Case,
    prompt: str,
    seed: int,
    progress: Progress | None = None,
) -> list[Answer]:
    task = case.task if case.mode == "independent" else None
    answers: list[Answer] = []
    size = max(1, adapter.batch_size)
    for start in range(0, len(items), size):
        batch = [
            Request(item, mixer.waveform(item, case.snr_db, adapter.sample_rate), prompt, task, case.mode, seed)
            for item in items[start : start + size]
        ]
        out = adapter.answer(batch)
        if len(out) != len(batch):
            raise SSEUError(f"adapter {adapter.name} returned {len(out)} answers for {len(batch)} requests")
        answers.extend(out)
        if progress:
            progress(len(answers), len(items))
    return answers


class SharedAnswers:
    """Answers of joint and CoT modes, computed once per (group, seed) and shared by the three task cases.

    The scheduler keeps a group's cases on one worker and adjacent, so a small
    LRU suffices; an evicted group is recomputed, never wrong.
    """

    def __init__(self, capacity: int = 3) -> None:
        self._store: OrderedDict[tuple[str, int], list[Answer]] = OrderedDict()
        self._capacity = capacity

    def get(self, case: Case, seed: int, compute: Callable[[], list[Answer]]) -> tuple[list[Answer], bool]:
        """(answers, reused)."""
        if case.mode == "independent":
            return compute(), False
        key = (case.group, seed)
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key], True
        answers = compute()
        self._store[key] = answers
        if len(self._store) > self._capacity:
            self._store.popitem(last=False)
        return answers, False
