"""Chat completions against any OpenAI-compatible endpoint, a bounded number at a time.

One `openai.OpenAI` client (thread-safe) serves a `ThreadPoolExecutor` of
`concurrency` threads, so at most that many requests are in flight. Retries
with exponential backoff on 408/409/429/5xx, connection errors and timeouts
are the client's own (`max_retries`; it honours the server's ``retry-after`` /
``retry-after-ms`` headers). The API key lives only in the client, which sends
it in the Authorization header: openai's exceptions carry the request (and
so the header), so they are translated into ours and never chained, and the
key is redacted from their text.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable
from urllib.parse import urlsplit, urlunsplit

from sseu_harness.errors import ConfigError, SSEUError

from .imports import require

# Statuses that retrying cannot fix: the key, the model name or the request is wrong.
_CONFIG_STATUSES = {400, 401, 403, 404, 422}


class EndpointError(SSEUError):
    """The endpoint kept failing (rate limit, 5xx, timeout, unreachable) after all retries."""


def public_url(url: str | None) -> str | None:
    """A base URL without user:password or query string, fit for settings, records and messages."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class ChatClient:
    def __init__(self, model: str, base_url: str, api_key: str | None, *, concurrency: int = 8,
                 timeout: float = 120.0, max_retries: int = 5, hint: str = "") -> None:
        openai = require("openai", model, "pip install openai")
        self.model = model
        self.base_url = base_url
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.hint = hint
        self._key = api_key or ""
        # A local vLLM needs no key; the client insists on one, so an unused placeholder is sent.
        self._client = openai.OpenAI(api_key=api_key or "EMPTY", base_url=base_url, timeout=timeout,
                                     max_retries=max_retries)
        self._openai = openai
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sseu-{model}")

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, base_url={public_url(self.base_url)!r}, concurrency={self.concurrency})"

    def complete_many(self, payloads: Iterable[dict[str, Any]]) -> list[str]:
        """The answer text of each payload, in order; raises on the first payload that finally failed."""
        return list(self._pool.map(self.complete, payloads))

    def complete(self, payload: dict[str, Any]) -> str:
        try:
            response = self._client.chat.completions.create(**payload)
        except self._openai.OpenAIError as exc:
            error = self._translate(exc)
        else:
            if not response.choices:
                raise EndpointError(f"{self.model} at {public_url(self.base_url)} returned no choices")
            return response.choices[0].message.content or ""
        raise error  # outside the except block: no chained openai exception (it holds the key)

    def _translate(self, exc: Exception) -> SSEUError:
        message = str(exc)
        if self._key:
            message = message.replace(self._key, "<redacted>")
        where = f"{self.model} at {public_url(self.base_url)}"
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            return ConfigError(f"{where} refused the API key (HTTP {status}): {message}; check the key's environment variable")
        if status in _CONFIG_STATUSES:
            return ConfigError(f"{where} rejected the request (HTTP {status}): {message}; check the model name and base URL")
        if isinstance(exc, self._openai.APIConnectionError):
            return EndpointError(
                f"cannot reach {where} after {self.max_retries} retries: {message}; is the server running?"
                + (f" {self.hint}" if self.hint else "")
            )
        return EndpointError(f"{where} failed after {self.max_retries} retries: {message}")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()
