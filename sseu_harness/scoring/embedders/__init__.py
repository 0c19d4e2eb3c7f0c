"""Text embedders (theta in the paper's eq. 1-3) and their on-disk cache."""

from sseu_harness.scoring.embedders.base import Embedder
from sseu_harness.scoring.embedders.cache import CachedEmbedder
from sseu_harness.scoring.embedders.minilm import MiniLMEmbedder
from sseu_harness.scoring.embedders.openai_embedder import EmbeddingServiceError, OpenAIEmbedder
from sseu_harness.scoring.embedders.registry import DEFAULT_EMBEDDER, make_embedder

__all__ = [
    "DEFAULT_EMBEDDER",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingServiceError",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "make_embedder",
]
