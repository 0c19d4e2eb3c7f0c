"""Adapters for the benchmarks: answer at once, or after a fixed latency per clip."""

from __future__ import annotations

import os
import time
import zlib

from sseu_harness.adapter import Adapter, Request


class NullAdapter(Adapter):
    """Takes the audio and answers at once: what remains is the harness's own cost."""

    name = "null"
    batch_size = 16

    def answer(self, requests: list[Request]) -> list[str]:
        return [f"Transcript: words {heard(r)}\nScene: home\nEvents: dog" for r in requests]


class SleepyAdapter(Adapter):
    """Answers after $SSEU_BENCH_LATENCY seconds per clip (default 0.05), like a model on a GPU."""

    name = "sleepy"
    batch_size = 1

    def answer(self, requests: list[Request]) -> list[str]:
        time.sleep(float(os.environ.get("SSEU_BENCH_LATENCY", "0.05")) * len(requests))
        return [f"Transcript: words {heard(r)}\nScene: home\nEvents: dog" for r in requests]


def heard(request: Request) -> int:
    """A number that depends on the clip's samples, so the answers pass the hearing gate as a listener's do."""
    return zlib.crc32(request.audio[::64].tobytes()) % 97  # every 64th sample: cheap, still the clip's own
