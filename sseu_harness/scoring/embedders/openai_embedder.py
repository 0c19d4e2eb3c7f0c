"""OpenAI (or OpenAI-compatible) embeddings: the paper's text-embedding-3-large."""

from __future__ import annotations

import os

import numpy as np
import openai
from openai.types import CreateEmbeddingResponse

from sseu_harness.errors import ConfigError, SSEUError
from sseu_harness.scoring.embedders.base import l2_normalize

DEFAULT_OPENAI_MODEL = "text-embedding-3-large"
_OFFICIAL_BASE_URL = "https://api.openai.com/v1"
# Statuses that retrying cannot fix: the key, the model name or the request is wrong.
_CONFIG_STATUSES = {400, 401, 403, 404, 422}


class EmbeddingServiceError(SSEUError):
    """The embedding service kept failing (rate limit, 5xx, unreachable) after all retries."""


class OpenAIEmbedder:
    """Embeds through `client.embeddings.create`, `batch_size` texts per request.

    The API key comes from `api_key` or else OPENAI_API_KEY, the base URL from
    `base_url` or else OPENAI_BASE_URL. The key never appears in `repr`, in
    error messages, or in an exception chain: openai's exceptions carry the
    request (with its Authorization header), so they are translated and never
    chained. Retries with backoff on 429/5xx/connection errors are the openai
    client's own (`max_retries`; it honours the server's retry-after-ms).
    Vectors are requested as "float" (the client would otherwise ask for
    base64) and put back in input order by each item's `index`.
    """

    def __init__(
        self,
        model: str = DEFAULT_OPENAI_MODEL,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 256,
        max_retries: int = 5,
        timeout: float = 60,
    ) -> None:
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ConfigError(
                "the openai embedder needs an API key: set OPENAI_API_KEY "
                "(or use the offline default embedder 'minilm')"
            )
        if not 1 <= batch_size <= 2048:
            raise ConfigError(f"OpenAI embedding batch_size must be 1..2048 (the API's limit), got {batch_size}")
        if max_retries < 0:
            raise ConfigError(f"OpenAI embedding max_retries must be >= 0, got {max_retries}")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.model = model
        self.base_url = base_url
        self.batch_size = batch_size
        self.max_retries = max_retries
        official = base_url is None or base_url.rstrip("/") == _OFFICIAL_BASE_URL
        # Another server may serve different vectors under the same model name:
        # keep its cache entries and records apart.
        self.name = f"openai:{model}" if official else f"openai:{model}@{base_url.rstrip('/')}"
        self._key = key
        self._client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout)

    def __repr__(self) -> str:
        return (
            f"OpenAIEmbedder(model={self.model!r}, base_url={self.base_url!r}, "
            f"batch_size={self.batch_size}, max_retries={self.max_retries})"
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed in requests of `batch_size` texts; rows are unit-length float32 in input order."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        chunks = [self._embed_chunk(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return l2_normalize(np.concatenate(chunks, axis=0))

    def _embed_chunk(self, chunk: list[str]) -> np.ndarray:
        try:
            response = self._client.embeddings.create(model=self.model, input=chunk, encoding_format="float")
        except openai.OpenAIError as exc:
            error = self._translate(exc)
        else:
            return self._vectors(response, len(chunk))
        raise error  # outside the except block: no chained openai exception (it holds the key)

    def _vectors(self, response: CreateEmbeddingResponse, expected: int) -> np.ndarray:
        items = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in items] != list(range(expected)):
            raise EmbeddingServiceError(
                f"{self.name} returned indices {[item.index for item in items][:10]} for {expected} inputs; "
                "the server does not speak the /v1/embeddings protocol (check OPENAI_BASE_URL)"
            )
        dims = {len(item.embedding) for item in items}
        if len(dims) != 1 or 0 in dims:
            raise EmbeddingServiceError(f"{self.name} returned vectors of lengths {sorted(dims)}; expected one non-zero length")
        return np.asarray([item.embedding for item in items], dtype=np.float32)

    def _translate(self, exc: openai.OpenAIError) -> SSEUError:
        """Turn an openai exception into ours, with the key redacted from its message."""
        message = str(exc).replace(self._key, "<redacted>")
        where = f"{self.name} at {self.base_url or _OFFICIAL_BASE_URL}"
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            return ConfigError(f"{where} refused the API key (HTTP {status}): {message}; check OPENAI_API_KEY")
        if status in _CONFIG_STATUSES:
            return ConfigError(
                f"{where} rejected the request (HTTP {status}): {message}; "
                "check the model name (embedder spec openai:<model>) and OPENAI_BASE_URL"
            )
        return EmbeddingServiceError(
            f"{where} failed after {self.max_retries} retries: {message}; "
            "retry later, raise max_retries, or check OPENAI_BASE_URL and the network"
        )
