"""Adapters used only by the tests, loaded with ``--sseu-model=tests.adapters:NAME``."""

from __future__ import annotations

import json
import os

import numpy as np

from sseu_harness.adapter import Adapter, ClassScores, Request
from sseu_harness.taxonomy import load_taxonomy


class ScoresOracle(Adapter):
    """A CLAP-shaped reference: class scores from the ground truth, no ASR, independent mode only."""

    name = "scores-oracle"
    tasks = ("ASC", "AT")
    modes = ("independent",)
    batch_size = 5

    def __init__(self, **_: object) -> None:
        self.taxonomy = load_taxonomy()

    def answer(self, requests: list[Request]) -> list[ClassScores]:
        out = []
        for r in requests:
            scenes = np.array([s == r.item.background.scene for s in self.taxonomy.scene_ids], dtype=float)
            events = np.array([e in r.item.background.event_labels for e in self.taxonomy.event_ids], dtype=float)
            out.append(ClassScores(scenes=0.1 + 0.8 * scenes, events=0.2 + 0.7 * events))
        return out


class Batcher(Adapter):
    """Counts the batches and checks their audio: the rate and length the harness promised."""

    name = "batcher"
    sample_rate = 8_000
    batch_size = 4

    def __init__(self, **_: object) -> None:
        self.batches = 0

    def answer(self, requests: list[Request]) -> list[str]:
        self.batches += 1
        for r in requests:
            assert r.audio.dtype == np.float32 and r.audio.ndim == 1
            assert abs(r.audio.size - 8.0 * self.sample_rate) <= 2  # the demo backgrounds last 8 s
        return [f"Transcript: {r.item.speech.transcript}\nScene: home\nEvents: dog" for r in requests]


class Format(Adapter):
    """A model whose name holds 'at': the plugin must warn that -k filters will misfire."""

    name = "format-bot"

    def answer(self, requests: list[Request]) -> list[str]:
        return ["" for _ in requests]


class CallLog(Adapter):
    """Logs every request (process, item, mode, task) to $SSEU_TEST_CALL_LOG, answering like the oracle."""

    name = "calllog"
    batch_size = 8

    def __init__(self, **_: object) -> None:
        from model_adapters.oracle.adapter import OracleAdapter

        self.oracle = OracleAdapter()
        self.log = os.environ["SSEU_TEST_CALL_LOG"]

    def answer(self, requests: list[Request]) -> list[str]:
        with open(self.log, "a", encoding="utf-8") as handle:
            for r in requests:
                handle.write(json.dumps({"pid": os.getpid(), "item": r.item.id, "mode": r.mode, "task": r.task}) + "\n")
        return self.oracle.answer(requests)
