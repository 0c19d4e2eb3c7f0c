"""Build an embedder from a short spec string given on the command line or in config."""

from __future__ import annotations

from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.embedders.base import Embedder
from sseu_harness.scoring.embedders.cache import CachedEmbedder
from sseu_harness.scoring.embedders.minilm import MiniLMEmbedder
from sseu_harness.scoring.embedders.openai_embedder import OpenAIEmbedder

DEFAULT_EMBEDDER = "minilm"
KNOWN_SPECS = ("minilm", "openai", "openai:<model>")
CACHE_FILE = "embeddings.sqlite"


def make_embedder(spec: str = DEFAULT_EMBEDDER, cache_dir: Path | None = None) -> Embedder:
    """Return the embedder for `spec`, cached at `cache_dir / embeddings.sqlite` when given.

    "minilm" is the offline default; "openai" is the paper's text-embedding-3-large
    and "openai:<model>" another OpenAI model. OpenAI reads OPENAI_API_KEY and,
    when set, OPENAI_BASE_URL (for an OpenAI-compatible server).
    """
    spec = spec.strip()
    embedder: Embedder
    if spec.lower() == "minilm":
        embedder = MiniLMEmbedder()
    elif spec.lower() == "openai":
        embedder = OpenAIEmbedder()
    elif spec.lower().startswith("openai:") and spec[len("openai:") :].strip():
        embedder = OpenAIEmbedder(model=spec[len("openai:") :].strip())
    else:
        raise ConfigError(f"unknown embedder {spec!r}; known: {', '.join(KNOWN_SPECS)}")
    return CachedEmbedder(embedder, Path(cache_dir) / CACHE_FILE) if cache_dir is not None else embedder
