"""Adapters for the benchmarks: answer at once, or after a fixed latency per clip.

Their answers depend on the audio (a strided sum of the samples picks from a
few answers), so a hearing check sees varied answers, at no cost worth measuring.
With $SSEU_BENCH_TIMES set, each call appends "start end clips" (monotonic
seconds) to that file: the benchmark reads the model's busy window from it.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from sseu_harness.adapter import Adapter, Request

EVENTS = ("dog", "blender", "dishes", "running water", "car", "footsteps", "birds singing", "alarm bell ringing")


def heard(audio: np.ndarray) -> int:
    return int(abs(float(np.sum(audio[::997]))) * 1000) % 8


def answers(requests: list[Request]) -> list[str]:
    return [f"Transcript: words {heard(r.audio)}\nScene: home\nEvents: {EVENTS[heard(r.audio)]}" for r in requests]


def log_call(started: float, clips: int) -> None:
    path = os.environ.get("SSEU_BENCH_TIMES")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{started} {time.monotonic()} {clips}\n")


class NullAdapter(Adapter):
    """Takes the audio and answers at once: what remains is the harness's own cost."""

    name = "null"
    batch_size = 16

    def answer(self, requests: list[Request]) -> list[str]:
        return answers(requests)


class SleepyAdapter(Adapter):
    """Answers after $SSEU_BENCH_LATENCY seconds per clip (default 0.05), like a model on a GPU."""

    name = "sleepy"
    batch_size = 1

    def answer(self, requests: list[Request]) -> list[str]:
        started = time.monotonic()
        time.sleep(float(os.environ.get("SSEU_BENCH_LATENCY", "0.05")) * len(requests))
        out = answers(requests)
        log_call(started, len(requests))
        return out


class LognormalNull(Adapter):
    """Sleeps a lognormal latency per call (median 0.2 s, sigma 0.8, seeded), then answers: a served null model.

    Thread-safe, for the serve wrapper's ``--workers``: it measures whether the
    wrapper keeps such a model busy.
    """

    name = "lognormal-null"

    def __init__(self, **_: object) -> None:
        self.rng = np.random.default_rng(0)
        self.lock = threading.Lock()

    def answer(self, requests: list[Request]) -> list[str]:
        with self.lock:
            latency = 0.2 * float(np.exp(0.8 * self.rng.standard_normal()))
        started = time.monotonic()
        time.sleep(latency)
        out = answers(requests)
        log_call(started, len(requests))
        return out


def __getattr__(name: str):
    """`TimedFasterWhisper`: the faster-whisper adapter, logging its calls; built on first use (optional)."""
    if name != "TimedFasterWhisper":
        raise AttributeError(name)
    from model_adapters.faster_whisper.adapter import FasterWhisperAdapter

    class TimedFasterWhisper(FasterWhisperAdapter):
        def answer(self, requests: list[Request]) -> list:
            started = time.monotonic()
            out = super().answer(requests)
            log_call(started, len(requests))
            return out

    TimedFasterWhisper.__module__ = __name__
    globals()[name] = TimedFasterWhisper
    return TimedFasterWhisper
