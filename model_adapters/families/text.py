"""The base of the language-model adapters: decoding settings, per-mode token budgets, seeds.

`TextAdapter.answer` groups a batch by mode and seed and calls `generate` with
an explicit `Decoding`; the model server calls `generate` directly with the
decoding a client asked for. Greedy decoding (temperature 0, the default) makes
an adapter deterministic; with a temperature above 0 the run seed seeds the
sampler, so runs differ from each other but each is reproducible.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping

from sseu_harness.adapter import Adapter, Request
from sseu_harness.models.settings import Schema, Setting

# Token budgets by mode: an independent answer is one line (a transcript of a
# 10 s clip is about 40 tokens), joint is three lines, CoT writes five steps
# before its final answer. Generation stops earlier at the end-of-turn token.
DEFAULT_MAX_NEW_TOKENS = {"independent": 256, "joint": 256, "cot": 1024}

DECODING_SETTINGS = Schema(
    max_new_tokens=Setting("tokens", None, help="int, or a table by mode; default 256 / 256 / 1024"),
    temperature=Setting("nonneg", 0.0, help="0 = greedy (deterministic); > 0 samples, seeded by the run seed"),
    top_p=Setting("pos", None, help="nucleus sampling, only with temperature > 0"),
)


def tokens_for(value: int | Mapping[str, int], mode: str, defaults: Mapping[str, int]) -> int:
    """max_new_tokens for a mode from an int (all modes) or a table by mode (others keep the defaults)."""
    if isinstance(value, Mapping):
        return int(value.get(mode, defaults[mode]))
    return int(value)


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None  # set only when sampling

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def decoding_summary(values: Mapping[str, Any]) -> dict[str, Any]:
    """Decoding as recorded in settings: token budget per mode, temperature, top_p, determinism."""
    budget = values.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS
    temperature = float(values.get("temperature") or 0.0)
    out: dict[str, Any] = {
        "max_new_tokens": {m: tokens_for(budget, m, DEFAULT_MAX_NEW_TOKENS) for m in DEFAULT_MAX_NEW_TOKENS},
        "temperature": temperature,
        "deterministic": temperature == 0,
    }
    if temperature > 0 and values.get("top_p") is not None:
        out["top_p"] = values["top_p"]
    return out


class TextAdapter(Adapter):
    """An adapter whose model answers in text; subclasses implement `generate`."""

    def setup_decoding(self, values: Mapping[str, Any]) -> None:
        self.max_new_tokens = values.get("max_new_tokens") or dict(DEFAULT_MAX_NEW_TOKENS)
        self.temperature = float(values.get("temperature") or 0.0)
        self.top_p = values.get("top_p")
        self.deterministic = self.temperature == 0

    def decoding_for(self, mode: str, seed: int) -> Decoding:
        return Decoding(
            max_new_tokens=tokens_for(self.max_new_tokens, mode, DEFAULT_MAX_NEW_TOKENS),
            temperature=self.temperature,
            top_p=self.top_p if self.temperature > 0 else None,
            seed=None if self.temperature == 0 else seed,
        )

    def decoding_settings(self) -> dict[str, Any]:
        """The decoding part of `settings` (what changes answers)."""
        return decoding_summary({"max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                                 "top_p": self.top_p})

    def answer(self, requests: list[Request]) -> list[str]:
        answers: list[str | None] = [None] * len(requests)
        groups: dict[tuple[str, int], list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault((request.mode, request.seed), []).append(index)
        for (mode, seed), indices in groups.items():
            texts = self.generate([requests[i] for i in indices], self.decoding_for(mode, seed))
            for i, text in zip(indices, texts):
                answers[i] = text
        return [a if a is not None else "" for a in answers]

    @abstractmethod
    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        """One text answer per request, decoded as `decoding` says."""
