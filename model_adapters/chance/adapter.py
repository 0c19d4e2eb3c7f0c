"""The lower bound: a seeded random scene and random events, and no transcript."""

from __future__ import annotations

import zlib

import numpy as np

from sseu_harness.adapter import Adapter, Request
from sseu_harness.spec.taxonomy import load_taxonomy

MAX_EVENTS = 3


class ChanceAdapter(Adapter):
    name = "chance"
    sample_rate = 16_000
    deterministic = False  # the run seed draws the answers
    listens = False  # a reference system: answers from the ground truth or the seed, not the audio
    batch_size = 64
    settings = {"max_events": MAX_EVENTS}

    def __init__(self, **_: object) -> None:
        self.taxonomy = load_taxonomy()

    def answer(self, requests: list[Request]) -> list[str]:
        return [self._answer(r) for r in requests]

    def _answer(self, request: Request) -> str:
        # Seeded per (run seed, item): the answer never depends on batching or worker.
        rng = np.random.default_rng([request.seed, zlib.crc32(request.item.id.encode())])
        scene = self.taxonomy.scenes[rng.integers(len(self.taxonomy.scenes))].name
        count = int(rng.integers(1, MAX_EVENTS + 1))
        picks = rng.choice(len(self.taxonomy.events), size=count, replace=False)
        events = "; ".join(self.taxonomy.events[i].name for i in sorted(picks))
        lines = {"ASR": "", "ASC": f"Scene: {scene}", "AT": f"Events: {events}"}
        if request.mode == "independent":
            return lines[request.task]
        return "Transcript:\n" + "\n".join(lines[t] for t in ("ASC", "AT"))
