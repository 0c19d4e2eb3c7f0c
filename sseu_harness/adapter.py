"""The contract between the harness and a model under test.

An adapter declares what it can do (sample rate, tasks, modes) so that the
harness can skip unsupported cases with a reason instead of failing them, and
turns a batch of requests into answers: free text for language models, class
confidences for CLAP-style models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from sseu_harness.dataset.manifest import Item
from sseu_harness.spec.tasks import MODES, TASKS


@dataclass(frozen=True)
class Request:
    item: Item  # ground truth: only reference systems (oracle) may read it
    audio: np.ndarray  # mono float32 at the adapter's sample_rate
    prompt: str
    task: str | None  # None in joint and CoT modes: one answer serves all tasks
    mode: str
    seed: int
    prepared: object = None  # what `Adapter.prepare_request` built ahead of the call (e.g. an HTTP payload)
    system: str | None = None  # the system turn the prompt set gives this model and task, if any


@dataclass(frozen=True)
class ClassScores:
    """Confidences per taxonomy class, as CLAP-style models produce them."""

    scenes: np.ndarray | None = None  # (n_scenes,), taxonomy order
    events: np.ndarray | None = None  # (n_events,), taxonomy order


@dataclass(frozen=True)
class Failure:
    """No answer: the model call raised or timed out. Scored as wrong, counted, never dropped."""

    reason: str


Answer = str | ClassScores


class Adapter(ABC):
    """Base class of every model adapter; subclasses set the class attributes."""

    name: str = "unnamed"
    sample_rate: int = 16_000
    tasks: tuple[str, ...] = TASKS
    modes: tuple[str, ...] = MODES
    deterministic: bool = True  # greedy decoding: repeated runs give the same answers
    listens: bool = True  # answers depend on the audio; reference systems (oracle, chance) declare False
    batch_size: int = 1
    concurrency: int = 1  # calls the harness may have in flight at once (served models: their request pool)
    settings: dict = {}  # what identifies this configuration (model id, revision, decoding)
    # Set by the harness (--sseu-timeout): seconds after which it abandons a call. An adapter that holds a
    # shared resource during a call (a connection, a concurrency slot) gives up by then, so that an abandoned
    # call does not keep it from the calls after it. None: no limit.
    call_timeout: float | None = None
    paper_system: str | None = None  # the paper's name of the system this adapter runs (docs/reproducing.md)

    @classmethod
    def identity(cls, user_settings: dict) -> dict:
        """What makes this configuration's answers reusable: class, declared and user settings.

        Computed from the class, without loading the model, so that stored
        answers can be found (and re-scored) before any weights are read.
        Adapters whose defaults live outside ``settings`` override this.
        """
        declared = cls.settings if isinstance(cls.settings, dict) else {}
        return {
            "adapter": f"{cls.__module__}.{cls.__qualname__}",
            "name": cls.name,
            "sample_rate": cls.sample_rate,
            "settings": declared,
            "user_settings": user_settings,
        }

    @classmethod
    def preflight(cls, user_settings: dict) -> None:
        """Refuse, before anything loads, settings whose weights cannot be had (raise ConfigError)."""

    @classmethod
    def unsupported(cls, task: str, mode: str) -> str | None:
        """Why a case cannot run on this model, or None when it can."""
        if task not in cls.tasks:
            return f"{cls.name} does not do {task}"
        if mode not in cls.modes:
            return f"{cls.name} does not support {mode} mode"
        return None

    @abstractmethod
    def answer(self, requests: list[Request]) -> list[Answer]:
        """One answer per request, in order."""

    def prepare_request(self, request: Request) -> Request:
        """Work on one request that can run ahead of the model, in the harness's prefetch thread.

        A served adapter encodes its payload here (WAV, base64) while earlier
        calls are in flight; the default prepares nothing.
        """
        return request

    def close(self) -> None:
        """Release the model (GPU memory, subprocesses); called once at session end."""
