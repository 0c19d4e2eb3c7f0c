"""What a chat endpoint says it serves, read once before the first request: part of the store key and `meta`.

A served model answers by the server's own settings (checkpoint, eval mode,
repetition penalty, system prompt, weights), which no request carries. Our
model server reports them at ``GET <base>/sseu/identity``; a server without
that route (vLLM, OpenAI) is known only by its ``GET <base>/models`` entry
for the served model, and the identity says so. Restarting a server in
another configuration on the same address then changes the store key, so the
store cannot hand back the old configuration's answers.
"""

from __future__ import annotations

from typing import Any

from model_adapters.utils.openai_chat import _httpx, public_url, split_urls
from sseu_harness.errors import ConfigError

IDENTITY_ROUTE = "/sseu/identity"  # under the base URL (``.../v1``)
MODEL_FIELDS = ("id", "owned_by", "root", "parent", "max_model_len")  # stable; vLLM's `created` is the request time
ONLY_THE_LISTING = "the server reports no settings or weights: only its /v1/models entry identifies it"
NOTHING = "the server answers neither /sseu/identity nor /v1/models: nothing identifies its configuration"
TIMEOUT_S = 10.0


def served_identity(name: str, base_url: str, api_model: str, api_key: str | None, hint: str = "") -> dict[str, Any]:
    """The served configuration, the same on every replica; a `ConfigError` when a server cannot be asked."""
    httpx = _httpx(name)
    headers = {"accept": "application/json", **({"authorization": f"Bearer {api_key}"} if api_key else {})}
    found: dict[str, dict[str, Any]] = {}
    for url in split_urls(base_url):
        found[public_url(url) or url] = _one(httpx, name, url, api_model, headers, hint)
    first = next(iter(found.values()))
    differing = [url for url, identity in found.items() if identity != first]
    if differing:
        raise ConfigError(
            f"model {name}: the replicas serve different configurations ({', '.join(found)}): "
            f"{differing[0]} differs from {next(iter(found))}; serve one configuration per base_url list"
        )
    return first


def _one(httpx: Any, name: str, url: str, api_model: str, headers: dict[str, str], hint: str) -> dict[str, Any]:
    status, data = _get(httpx, name, url, IDENTITY_ROUTE, headers, hint)
    if status == 200 and isinstance(data, dict):
        return {"reported_by": "sseu model server", **data}
    status, data = _get(httpx, name, url, "/models", headers, hint)
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return {"reported_by": None, "unknown": NOTHING}
    entries = [e for e in data["data"] if isinstance(e, dict)]
    entry = next((e for e in entries if e.get("id") == api_model), None)
    if entry is None:
        listed = ", ".join(str(e.get("id")) for e in entries[:10]) or "nothing"
        raise ConfigError(
            f"model {name}: {public_url(url)} serves {listed}, not {api_model!r}: "
            f"set api_model (--sseu-api-model) to the served model's name"
        )
    return {"reported_by": "/v1/models", "model": {k: entry[k] for k in MODEL_FIELDS if entry.get(k) is not None},
            "unknown": ONLY_THE_LISTING}


def _get(httpx: Any, name: str, url: str, route: str, headers: dict[str, str], hint: str) -> tuple[int, Any]:
    where = f"{public_url(url)}{route}"
    try:
        response = httpx.get(url.rstrip("/") + route, headers=headers, timeout=TIMEOUT_S, follow_redirects=True)
    except (httpx.HTTPError, OSError) as exc:
        raise ConfigError(
            f"model {name}: cannot ask {where} what it serves ({type(exc).__name__}: {exc}); the served "
            f"configuration is part of the store key, so the server must be up, also to re-score"
            + (f". {hint}" if hint else "")
        ) from None
    if response.status_code in (401, 403):
        raise ConfigError(
            f"model {name}: {where} refused the key (HTTP {response.status_code}): set the variable that "
            f"api_key_env names to the server's key"
        )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None
