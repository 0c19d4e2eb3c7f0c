"""What a benchmark session is asked to do, as typed on the command line or in a CLI call."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from sseu_harness.dataset.preflight import DEFAULT_MAX_CLIP_SECONDS
from sseu_harness.scoring.normalizer import DEFAULT_NORMALIZER
from sseu_harness.spec.prompts import DEFAULT_PROMPTS

if TYPE_CHECKING:
    from sseu_harness.models.resolve import ModelSpec


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[ModelSpec, ...]  # resolved once, with their settings (`resolve_models`)
    data: str | None = None
    allow_roots: bool = False  # --sseu-allow-roots: the manifest's roots may lie outside the set's folder
    max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS  # --sseu-max-clip-seconds: longer clips are refused
    tasks: str | None = None  # comma lists as typed; None = all
    snrs: str | None = None
    modes: str | None = None
    runs: int = 1
    model_runs: Mapping[str, int] = field(default_factory=dict)  # label -> runs where it differs (--sseu-protocol paper)
    protocol: str = "harness"  # --sseu-protocol (sseu_harness/run/protocol.py)
    seed: int = 0
    embedder: str = "minilm"
    normalizer: str = DEFAULT_NORMALIZER  # --sseu-normalizer: the WER text normaliser's name
    cache_dir: Path = Path(".sseu-cache")
    prompts: Path = DEFAULT_PROMPTS
    store: Path | None = Path(".sseu-cache") / "predictions.sqlite"  # None: neither read nor write answers
    rescore: bool = False  # answers only from the store; no model is loaded
    timeout: float | None = 600.0  # seconds per model call (batch)
    max_error_rate: float = 0.05  # failed model calls above this fraction fail the case
    max_parse_failure_rate: float = 1.0  # unparsable answers above this fraction fail the case
