"""`--sseu-protocol`: the harness's defaults, or the paper's protocol in one switch.

``paper`` sets what the paper did (`data/paper_figures.toml`, ``[protocol]``):
three runs for its language models and one for the systems it gives no std
(the CLAP baselines), each model's own decoding recipe (``decoding = "model"``
on every model whose settings declare ``decoding``) and the paper's embedder.
An option the user sets explicitly wins; the report then lists it among the
departures from the paper (`sseu_harness/results/paper.py`), which are
computed from the run's meta. ``harness`` changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from sseu_harness.errors import ConfigError
from sseu_harness.models.resolve import ModelSpec
from sseu_harness.scoring.embedders.registry import DEFAULT_EMBEDDER
from sseu_harness.spec.paper import load_paper_figures

HARNESS = "harness"
PAPER = "paper"
PROTOCOLS = (HARNESS, PAPER)


@dataclass(frozen=True)
class ProtocolChoice:
    """What the session runs under a protocol, after the options the user set explicitly."""

    name: str
    runs: int
    embedder: str
    model_runs: Mapping[str, int] = field(default_factory=dict)  # label -> runs, where it differs from `runs`


def check_protocol(name: str, where: str) -> str:
    if name not in PROTOCOLS:
        raise ConfigError(f"{where}: unknown protocol {name!r}; known: {', '.join(PROTOCOLS)} "
                          f"({PAPER}: the paper's runs, decoding and embedder; {HARNESS}: this harness's defaults)")
    return name


def protocol_settings(name: str) -> dict[str, Any]:
    """Model settings the protocol gives every model whose schema declares them."""
    return {"decoding": load_paper_figures().protocol.decoding} if name == PAPER else {}


def check_key(name: str, embedder: str | None) -> None:
    """Under ``paper`` without an explicit embedder, the paper's (OpenAI) embedder needs a key: its absence is a
    `ConfigError` before any model is resolved or loaded."""
    if name == PAPER and embedder is None and not os.environ.get("OPENAI_API_KEY"):
        paper = load_paper_figures()
        raise ConfigError(
            f"--sseu-protocol {PAPER} scores with the paper's embedder {paper.protocol.embedder}, which needs an "
            "API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for an OpenAI-compatible server), or choose another "
            "embedder with --sseu-embedder (the report then lists it as a departure from the paper)"
        )


def choose(name: str, models: Sequence[ModelSpec], runs: int | None, embedder: str | None) -> ProtocolChoice:
    """Runs and embedder under protocol `name`; `runs` / `embedder` are the explicit options (None: not given)."""
    if name != PAPER:
        return ProtocolChoice(name, 1 if runs is None else runs, embedder or DEFAULT_EMBEDDER)
    check_key(name, embedder)
    paper = load_paper_figures()
    if runs is not None:
        return ProtocolChoice(name, runs, embedder or paper.protocol.embedder)
    model_runs = {m.label: paper.protocol.runs_without_std for m in models
                  if m.paper_system is not None and not paper.has_std(m.paper_system)}
    return ProtocolChoice(name, paper.protocol.runs, embedder or paper.protocol.embedder, model_runs)
