"""The upper bound: answers with the ground truth, phrased as the prompt asks.

Its answers travel the same parse and scoring path as a model's, so the oracle
checks the harness: WER 0, mACC 100 and mAP 100 on every case (paper, sec. 3).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from sseu_harness.adapter import Adapter, Request
from sseu_harness.spec.taxonomy import load_taxonomy

ANSWERS = tomllib.loads((Path(__file__).parent / "answers.toml").read_text(encoding="utf-8"))


class OracleAdapter(Adapter):
    name = "oracle"
    sample_rate = 16_000
    deterministic = True
    listens = False  # a reference system: answers from the ground truth or the seed, not the audio
    batch_size = 64
    settings = {"answers": "model_adapters/oracle/answers.toml"}

    def __init__(self, **_: object) -> None:
        self.taxonomy = load_taxonomy()

    def answer(self, requests: list[Request]) -> list[str]:
        return [self._answer(r) for r in requests]

    def _answer(self, request: Request) -> str:
        item = request.item
        events = [self.taxonomy.event_name(e) for e in item.background.event_labels]
        fields = {
            "transcript": item.speech.transcript,
            "scene": self.taxonomy.scene_name(item.background.scene),
            "events": "; ".join(events) or ANSWERS["no_events"],
            "events_prose": ", ".join(events) or "no sound events",
            "speech_level": "louder than" if request.seed >= 0 else "as loud as",
        }
        template = ANSWERS["independent"][request.task] if request.mode == "independent" else ANSWERS[request.mode]
        return template.format(**fields)
