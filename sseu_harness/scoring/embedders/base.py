"""What the scorer needs from a text embedding model (theta in the paper's eq. 1-3)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Maps texts to unit-length vectors.

    `name` is a stable id ("minilm:all-MiniLM-L6-v2", "openai:text-embedding-3-large")
    written into records and used as the cache key, so two embedders that can
    return different vectors must never share a name.
    """

    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return float32 rows of shape (len(texts), dim), each L2-normalised, in input order.

        An empty `texts` gives an array of shape (0, 0): no model call is made.
        """
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length as float32 (cosine similarity then is a dot product)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
