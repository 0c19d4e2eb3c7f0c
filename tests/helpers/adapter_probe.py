"""An adapter for the settings tests: it declares settings and writes what it received to $SSEU_TEST_PROBE_LOG."""

from __future__ import annotations

import json
import os

from sseu_harness.adapter import Adapter, Request
from sseu_harness.models.settings import Schema, Setting


class Probe(Adapter):
    name = "probe"
    tasks = ("ASC",)
    modes = ("independent",)
    batch_size = 26
    SETTINGS = Schema(model=Setting("str", "probe-default"), batch_size=Setting("pos_int", 26),
                      temperature=Setting("nonneg", 0.0), extra=Setting("table", None))

    @classmethod
    def check_settings(cls, settings, workers: int = 1) -> None:
        """Called with the merged settings at start-up (also under --collect-only)."""
        log = os.environ.get("SSEU_TEST_PROBE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"settings": settings, "workers": workers}, sort_keys=True) + "\n")

    def __init__(self, **settings) -> None:
        self.values = self.SETTINGS.parse(self.name, settings)

    def answer(self, requests: list[Request]) -> list[str]:
        return ["Scene: home" for _ in requests]
