"""The base of the language-model adapters: decoding settings, per-mode token budgets, seeds.

`TextAdapter.answer` groups a batch by mode and seed and calls `generate` with
an explicit `Decoding`; the model server calls `generate` directly with the
decoding a client asked for. Greedy decoding (temperature 0, the default) makes
an adapter deterministic; with a temperature above 0 the run seed seeds the
sampler, so runs differ from each other but each is reproducible.
``decoding = "model"`` takes the model's own recipe (`Recipe`, set per adapter
as ``RECIPE`` with its source cited): the model run as its authors run it.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from sseu_harness.adapter import Adapter, Request
from sseu_harness.models.settings import Schema, Setting

# Token budgets by mode: an independent answer is one line (a transcript of a
# 10 s clip is about 40 tokens), joint is three lines, CoT writes five steps
# before its final answer. Generation stops earlier at the end-of-turn token.
DEFAULT_MAX_NEW_TOKENS = {"independent": 256, "joint": 256, "cot": 1024}

DECODINGS = ("greedy", "model")
# The sampling values a recipe or the settings may set; None = the neutral value (or unset).
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "repetition_penalty", "min_new_tokens")

DECODING_SETTINGS = Schema(
    decoding=Setting("str", "greedy", choices=DECODINGS,
                     help="greedy (deterministic) or model: the model's own recipe (docs/models/index.md); "
                          "the sampling settings below override single values of either"),
    max_new_tokens=Setting("tokens", None, help="int, or a table by mode; default 256 / 256 / 1024"),
    min_new_tokens=Setting("pos_int", None, help="generate at least N tokens (vLLM: min_tokens)"),
    temperature=Setting("nonneg", None, help="0 = greedy (the default); > 0 samples, seeded by the run seed"),
    top_p=Setting("pos", None, help="nucleus sampling, only with temperature > 0"),
    top_k=Setting("pos_int", None, help="top-k sampling, only with temperature > 0"),
    repetition_penalty=Setting("pos", None, help="penalise repeated tokens (1 = none)"),
)


@dataclass(frozen=True)
class Recipe:
    """A model's own decoding, as its authors run it (``decoding = "model"``).

    `source` cites where the values come from and is recorded in the identity.
    `deferred`: the values live where the model runs (its weights'
    ``generation_config.json``, read at load time or applied by a vLLM server),
    so none are known, or sent, from here.
    """

    source: str
    values: Mapping[str, Any] = field(default_factory=dict)
    deferred: bool = False


GREEDY = Recipe("greedy")


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
    top_k: int | None = None
    repetition_penalty: float | None = None
    min_new_tokens: int | None = None
    from_model: bool = False  # sample as the model's own generation config says (a deferred recipe)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0 and not self.from_model


def sampling_values(values: Mapping[str, Any], recipe: Recipe = GREEDY) -> dict[str, Any]:
    """The sampling values in force: the recipe's when ``decoding = "model"``, single settings overriding them."""
    chosen = dict(recipe.values) if values.get("decoding") == "model" else {}
    chosen.update({k: values[k] for k in SAMPLING_KEYS if values.get(k) is not None})
    return {k: chosen.get(k) for k in SAMPLING_KEYS}


def decoding_summary(values: Mapping[str, Any], recipe: Recipe = GREEDY) -> dict[str, Any]:
    """Decoding as recorded in settings: token budget per mode, sampling values, determinism, the recipe.

    Values left neutral are not written, so greedy identities stay those of
    the releases before these settings existed.
    """
    budget = values.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS
    sampling = sampling_values(values, recipe)
    temperature = float(sampling["temperature"] or 0.0)
    model = values.get("decoding") == "model"
    out: dict[str, Any] = {
        "max_new_tokens": {m: tokens_for(budget, m, DEFAULT_MAX_NEW_TOKENS) for m in DEFAULT_MAX_NEW_TOKENS},
        "temperature": temperature,
        "deterministic": temperature == 0 and not (model and recipe.deferred and sampling["temperature"] is None),
    }
    if temperature > 0 and sampling["top_p"] is not None:
        out["top_p"] = sampling["top_p"]
    for key in ("top_k", "repetition_penalty", "min_new_tokens"):
        if sampling[key] is not None:
            out[key] = sampling[key]
    if model:
        out["decoding"] = "model"
        out["recipe"] = recipe.source
    return out


class TextAdapter(Adapter):
    """An adapter whose model answers in text; subclasses implement `generate`."""

    RECIPE: Recipe = GREEDY  # the model's own decoding (``decoding = "model"``); cited where it is set
    # greedy until `setup_decoding` reads the settings (an adapter that never calls it stays greedy)
    max_new_tokens: int | Mapping[str, int] = MappingProxyType(DEFAULT_MAX_NEW_TOKENS)
    sampling: Mapping[str, Any] = MappingProxyType(dict.fromkeys(SAMPLING_KEYS))
    temperature = 0.0
    from_model = False

    def setup_decoding(self, values: Mapping[str, Any], recipe: Recipe | None = None) -> None:
        """Decoding from the settings; `recipe` replaces the class's (one read from the loaded weights)."""
        recipe = recipe or self.RECIPE
        self.max_new_tokens = values.get("max_new_tokens") or dict(DEFAULT_MAX_NEW_TOKENS)
        self.sampling = sampling_values(values, recipe)
        # a deferred recipe leaves sampling to where the model runs, unless a temperature is set here
        self.from_model = (values.get("decoding") == "model" and recipe.deferred
                           and self.sampling["temperature"] is None)
        self.temperature = float(self.sampling["temperature"] or 0.0)
        self.deterministic = self.temperature == 0 and not self.from_model

    def decoding_for(self, mode: str, seed: int) -> Decoding:
        sampling = self.temperature > 0 or self.from_model
        return Decoding(
            max_new_tokens=tokens_for(self.max_new_tokens, mode, DEFAULT_MAX_NEW_TOKENS),
            temperature=self.temperature,
            top_p=self.sampling["top_p"] if self.temperature > 0 else None,
            seed=seed if sampling else None,
            top_k=self.sampling["top_k"],
            repetition_penalty=self.sampling["repetition_penalty"],
            min_new_tokens=self.sampling["min_new_tokens"],
            from_model=self.from_model,
        )

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
