"""Text embedders (theta in the paper's eq. 1-3) and their on-disk cache."""

from .base import Embedder
from .cache import CachedEmbedder
from .minilm import MiniLMEmbedder
from .openai_embedder import EmbeddingServiceError, OpenAIEmbedder
from .registry import DEFAULT_EMBEDDER, make_embedder

__all__ = [
    "DEFAULT_EMBEDDER",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingServiceError",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "make_embedder",
]
