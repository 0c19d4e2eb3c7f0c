"""Models behind an OpenAI-compatible ``/v1/chat/completions`` endpoint: `ChatAdapter`, `ServedModelAdapter`.

Each clip goes out as one chat request: a user message whose content is the
prompt as a ``text`` part and the clip as an ``input_audio`` part (base64 WAV,
16-bit PCM at `sample_rate`, the format vLLM and OpenAI's audio models accept).
Decoding is explicit: ``temperature`` 0 (greedy) and ``max_tokens`` per mode by
default; with a temperature above 0 the run seed goes out as ``seed``;
``top_k``, ``repetition_penalty`` and ``min_tokens`` (vLLM's sampling fields,
which OpenAI's client sends through ``extra_body``) go out when set. With
``decoding = "model"`` an adapter sends its model's recipe, or, where the
recipe is the server's (a generic vLLM endpoint, `ChatAdapter.RECIPE`), no
sampling field at all, so vLLM applies the weights' ``generation_config.json``.
``modalities: ["text"]`` is sent only when configured (OpenAI's audio models
want it). Requests run `concurrency` at a time with the client's retries; in a
benchmark session the harness streams them (one clip per call, `concurrency`
calls in flight) and builds each payload (WAV, base64) ahead in its prefetch
(`prepare_request`). ``base_url`` may name several replicas of one served model (a
comma list or a list): each request goes to the least-busy one, and a request
to an unreachable one is retried on another (``utils.openai_chat.ChatClient``).

The store key and `meta` also hold what the server says it serves
(`utils.served_identity`), asked once a session before the first request.

`ServedModelAdapter` is the base of the models that live in an environment of
their own (Kimi-Audio, LTU-AS): the same client, their own defaults, and a
clear error with the serve command when no base URL is given.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from typing import Any, Mapping

from model_adapters.families.text import (DECODING_SETTINGS, DEFAULT_MAX_NEW_TOKENS, Decoding, Recipe, TextAdapter,
                                          decoding_summary)
from model_adapters.utils.audio import cut, wav_bytes
from model_adapters.utils.openai_chat import (ChatClient, encode_body, public_url, public_url_or_raw, public_urls,
                                             split_urls, url_problem)
from model_adapters.utils.served_identity import served_identity
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Schema, Setting

OFFICIAL_BASE_URL = "https://api.openai.com/v1"

ENDPOINT_SETTINGS = DECODING_SETTINGS.extend(
    base_url=Setting("urls", None, help="e.g. http://127.0.0.1:8000/v1, or several replicas: a comma list or a list "
                                        "(else OPENAI_BASE_URL)"),
    api_model=Setting("str", None, help="the served model name (else SSEU_OPENAI_MODEL)"),
    api_key_env=Setting("str", "OPENAI_API_KEY", help="NAME of the environment variable holding the key"),
    sample_rate=Setting("pos_int", 16_000, help="rate of the WAV sent"),
    max_audio_seconds=Setting("pos", None, help="cut clips to their first N seconds before sending"),
    wav_subtype=Setting("str", "PCM_16", choices=("PCM_16", "PCM_24", "FLOAT")),
    audio_chunk_seconds=Setting("pos", None, help="send long clips as several input_audio parts of N s"),
    audio_first=Setting("bool", False, help="put the audio part before the text part"),
    user_role=Setting("str", "user", help="role of the message carrying the clip"),
    system_prompt=Setting("str", None, help="a system message before the clip"),
    modalities=Setting("str_list", None, help='e.g. ["text"] for OpenAI audio models'),
    max_tokens_field=Setting("str", "max_tokens", choices=("max_tokens", "max_completion_tokens")),
    extra_body=Setting("table", None, help="extra request fields (e.g. vLLM's top_k)"),
    concurrency=Setting("pos_int", 8, help="requests in flight at once (over all replicas)"),
    adaptive_concurrency=Setting("bool", False, help="halve a replica's concurrency on 429/503, then grow it again"),
    timeout=Setting("pos", None, help="seconds per request attempt (default: 60 + max_new_tokens x concurrency "
                                      "/ 32 tokens/s: 124 s for 256 tokens, 316 s for CoT's 1024, at concurrency 8)"),
    max_retries=Setting("int", 5, help="retries with backoff on 429, 5xx, timeouts, connection errors"),
    give_up_after=Setting("int", 10, help="fail the remaining clips at once after this many attempts in a row "
                                          "could not connect or timed out (0: never)"),
    batch_size=Setting("pos_int", 32, help="clips handed over per call (sent concurrency at a time)"),
)

# A request attempt's default time limit follows its token budget, so that a long (CoT) answer is not cut off
# and asked again while the server still works on it: a server that generates one clip at a time (Kimi-Audio,
# LTU-AS behind our wrapper) answers the last of `concurrency` requests after all of them, each up to
# max_new_tokens at ASSUMED_TOKENS_PER_S (a 7B model on one GPU, slowly). The call as a whole stays within the
# harness's --sseu-timeout (`call_timeout`), whatever this gives.
ATTEMPT_BASE_S = 60.0
ASSUMED_TOKENS_PER_S = 32.0

_AUDIO_MARK = "\x00sseu-audio\x00"  # where `encode` splices the base64 audio into the serialised body
_AUDIO_MARK_JSON = json.dumps(_AUDIO_MARK).encode()

# Settings that change answers (the identity); the rest (concurrency, timeouts) do not.
_IDENTITY_KEYS = ("api_model", "sample_rate", "max_audio_seconds", "wav_subtype", "audio_chunk_seconds",
                  "audio_first", "user_role", "system_prompt", "modalities", "extra_body")


@dataclasses.dataclass(frozen=True)
class PreparedBody:
    """A request's JSON body, serialised in the harness's prefetch, and the decoding it carries."""

    decoding: Decoding
    body: bytes


class ChatAdapter(TextAdapter):
    """A model behind an OpenAI-compatible chat endpoint; subclasses set `name` and their defaults."""

    sample_rate = 16_000
    batch_size = 32
    deterministic = True  # at the default temperature 0
    settings: dict = {}
    SETTINGS: Schema = ENDPOINT_SETTINGS
    default_api_model: str | None = None
    # vLLM's default: "generation_config" = "auto" applies the weights' generation_config.json to what a request leaves out
    RECIPE = Recipe("the server's default (vLLM: the weights' generation_config.json)", deferred=True)

    def __init__(self, **settings: Any) -> None:
        values = self.resolve(settings)
        self.values = values
        self.base_url: str = values["base_url"]
        self.api_model: str = values["api_model"]
        self.sample_rate = values["sample_rate"]
        self.batch_size = max(values["batch_size"], 1)
        self.concurrency = values["concurrency"]
        self.setup_decoding(values)
        key = os.environ.get(values["api_key_env"]) or None
        if key is None and _official(self.base_url):
            raise ConfigError(
                f"model {self.name}: {public_urls(self.base_url)} needs an API key: set the environment variable "
                f"{values['api_key_env']} (or name another one with api_key_env)"
            )
        self.client = ChatClient(self.name, self.base_url, key, concurrency=values["concurrency"],
                                 timeout=float(values["timeout"] or attempt_timeout(DEFAULT_MAX_NEW_TOKENS["joint"],
                                                                                    values["concurrency"])),
                                 max_retries=values["max_retries"], hint=self.serve_hint(),
                                 adaptive=values["adaptive_concurrency"], give_up_after=values["give_up_after"])
        self.settings = self.describe(values)

    # --- configuration ---------------------------------------------------------------

    @classmethod
    def resolve(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults, settings and the environment merged; a ConfigError when the endpoint is unknown."""
        values = cls.SETTINGS.parse(cls.name, settings)
        for name in ("max_retries", "give_up_after"):
            if values[name] < 0:
                raise ConfigError(f"model {cls.name}: {name} must be >= 0, got {values[name]}")
        values["base_url"] = ",".join(split_urls(values["base_url"])) or cls.env_base_url()
        for url in split_urls(values["base_url"]):
            problem = url_problem(url)
            if problem:
                raise ConfigError(f"model {cls.name}: base URL {public_url_or_raw(url)!r} {problem}; write it as "
                                  "http://HOST:PORT/v1 (e.g. http://127.0.0.1:8000/v1)")
        values["api_model"] = values["api_model"] or cls.env_api_model() or cls.default_api_model
        if not values["base_url"]:
            raise ConfigError(cls.missing_base_url())
        if not values["api_model"]:
            raise ConfigError(
                f"model {cls.name} needs the served model's name: --sseu-api-model NAME, api_model in "
                f"[models.{cls.name}], or SSEU_OPENAI_MODEL (vLLM serves it under --served-model-name)"
            )
        return values

    @classmethod
    def env_base_url(cls) -> str | None:
        return os.environ.get("OPENAI_BASE_URL") or None

    @classmethod
    def env_api_model(cls) -> str | None:
        return os.environ.get("SSEU_OPENAI_MODEL") or None

    @classmethod
    def missing_base_url(cls) -> str:
        return (
            f"model {cls.name} needs a base URL: --sseu-base-url URL (e.g. http://127.0.0.1:8000/v1), "
            f"base_url in [models.{cls.name}] of the models file, or OPENAI_BASE_URL"
        )

    @classmethod
    def serve_hint(cls) -> str:
        """How to start the endpoint, added to connection errors; empty when it is not ours to start."""
        return ""

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], workers: int = 1) -> None:
        """Fail at start-up, not at the first case, when the endpoint cannot be known."""
        cls.resolve(settings)

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: values.get(k) for k in _IDENTITY_KEYS if values.get(k) is not None}
        out["base_url"] = public_urls(values["base_url"])  # one URL: as before; replicas: all, in order
        out.update(decoding_summary(values, cls.RECIPE))
        return out

    @classmethod
    def identity(cls, user_settings: dict) -> dict:
        """Class and settings, and what the server says it serves (a GET per replica: compute it once a session)."""
        try:
            values = cls.resolve(user_settings)
            settings = cls.describe(values)
        except ConfigError:
            return {"adapter": f"{cls.__module__}.{cls.__qualname__}", "name": cls.name,
                    "sample_rate": cls.sample_rate, "settings": {"unresolved": True}}
        return {"adapter": f"{cls.__module__}.{cls.__qualname__}", "name": cls.name,
                "sample_rate": settings.get("sample_rate", cls.sample_rate), "settings": settings,
                "server": cls.server_identity(values)}

    @classmethod
    def server_identity(cls, values: Mapping[str, Any]) -> dict:
        """The served configuration (`utils.served_identity`): settings no request carries, part of the store key."""
        return served_identity(cls.name, values["base_url"], values["api_model"],
                               os.environ.get(values["api_key_env"]) or None, cls.serve_hint())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={public_urls(self.base_url)!r}, api_model={self.api_model!r})"

    # --- answering ------------------------------------------------------------------------

    def prepare_request(self, request: Request) -> Request:
        """The request body (WAV, base64, JSON: the costly part) built ahead, in the harness's prefetch thread."""
        decoding = self.decoding_for(request.mode, request.seed)
        return dataclasses.replace(request, prepared=PreparedBody(decoding, self.encode(request, decoding)))

    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        # a generator: the pool starts sending while later bodies (WAV, base64, JSON) are still being built;
        # the call ends by the harness's limit (call_timeout), so that a call it abandons frees its slot
        return self.client.complete_many((self.body(r, decoding) for r in requests), within=self.call_timeout,
                                         timeout=self.values["timeout"] or attempt_timeout(decoding.max_new_tokens,
                                                                                           self.concurrency))

    def body(self, request: Request, decoding: Decoding) -> bytes:
        """The request's JSON body: the one prepared ahead when it was built for this decoding."""
        prepared = request.prepared
        if isinstance(prepared, PreparedBody) and prepared.decoding == decoding:
            return prepared.body
        return self.encode(request, decoding)

    def encode(self, request: Request, decoding: Decoding) -> bytes:
        """`encode_body` of `payload`, byte for byte, at a fraction of its cost.

        The base64 audio is spliced into the serialised JSON as bytes: its
        alphabet needs no escaping, and json.dumps would otherwise scan the
        largest string of the body character by character. When the mark
        also occurs elsewhere (a prompt holding it), the body is serialised
        plainly.
        """
        chunks = self.audio_base64(request.audio)
        pieces = encode_body(self.payload(request, decoding, [_AUDIO_MARK] * len(chunks))).split(_AUDIO_MARK_JSON)
        if len(pieces) != len(chunks) + 1:
            return encode_body(self.payload(request, decoding, [c.decode("ascii") for c in chunks]))
        spliced = [pieces[0]]
        for chunk, piece in zip(chunks, pieces[1:]):
            spliced += [b'"', chunk, b'"', piece]
        return b"".join(spliced)

    def audio_base64(self, audio) -> list[bytes]:
        """The clip as base64 WAV: cut to `max_audio_seconds`, in parts of `audio_chunk_seconds`."""
        v = self.values
        audio = cut(audio, self.sample_rate, v["max_audio_seconds"])
        step = int(v["audio_chunk_seconds"] * self.sample_rate) if v["audio_chunk_seconds"] else audio.shape[0]
        chunks = [audio[i : i + step] for i in range(0, max(audio.shape[0], 1), max(step, 1))] or [audio]
        return [base64.b64encode(wav_bytes(c, self.sample_rate, v["wav_subtype"])) for c in chunks]

    def messages(self, request: Request, audio_data: list[str]) -> list[dict[str, Any]]:
        """The chat: a system message (the setting, else the prompt set's for this task), then the clip's turn."""
        v = self.values
        audio = [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}} for data in audio_data]
        text = [{"type": "text", "text": request.prompt}] if request.prompt else []
        content = audio + text if v["audio_first"] else text + audio
        messages: list[dict[str, Any]] = []
        system = v["system_prompt"] or request.system
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": v["user_role"], "content": content})
        return messages

    def payload(self, request: Request, decoding: Decoding, audio_data: list[str] | None = None) -> dict[str, Any]:
        """The request as a dict; `audio_data` (base64 WAV parts) is encoded from the clip unless given."""
        v = self.values
        if audio_data is None:
            audio_data = [c.decode("ascii") for c in self.audio_base64(request.audio)]
        payload: dict[str, Any] = {"model": self.api_model, "messages": self.messages(request, audio_data)}
        if not decoding.from_model:  # else the server applies its own (vLLM: the weights' generation_config.json)
            payload["temperature"] = decoding.temperature
        payload[v["max_tokens_field"]] = decoding.max_new_tokens
        if not decoding.greedy:
            payload["seed"] = int(decoding.seed or 0)
            if decoding.top_p is not None:
                payload["top_p"] = decoding.top_p
        for field, value in (("top_k", decoding.top_k), ("repetition_penalty", decoding.repetition_penalty),
                             ("min_tokens", decoding.min_new_tokens)):
            if value is not None:
                payload[field] = value
        if v["modalities"]:
            payload["modalities"] = list(v["modalities"])
        if v["extra_body"]:
            payload["extra_body"] = dict(v["extra_body"])
        return payload

    def close(self) -> None:
        self.client.close()


def attempt_timeout(max_new_tokens: int, concurrency: int) -> float:
    """Seconds one request attempt may take by default: `concurrency` answers of its token budget, one after
    another (see ASSUMED_TOKENS_PER_S)."""
    return ATTEMPT_BASE_S + max_new_tokens * concurrency / ASSUMED_TOKENS_PER_S


def _official(base_url: str) -> bool:
    return any((public_url(url) or "").rstrip("/") == OFFICIAL_BASE_URL for url in split_urls(base_url))


def serve_command(model: str, model_path: str, port: int = 8000, extra: str = "") -> str:
    """The command that serves one of our adapters over HTTP inside the model's own environment."""
    tail = f" {extra}" if extra else ""
    return (f"python -m model_adapters.serve.openai_server --model {model} --model-path {model_path} "
            f"--port {port}{tail}")


class ServedModelAdapter(ChatAdapter):
    """A model that cannot share our environment, reached through our model server (or its own API).

    Subclasses set `name`, `native` (the in-process adapter the server runs),
    `default_model_path` and `environment` (what the model's environment needs).
    """

    native: str = ""
    default_model_path = "MODEL_PATH"
    environment = ""

    @classmethod
    def env_base_url(cls) -> str | None:
        return None  # OPENAI_BASE_URL belongs to the generic `openai` adapter

    @classmethod
    def env_api_model(cls) -> str | None:
        return None

    @classmethod
    def missing_base_url(cls) -> str:
        return (
            f"model {cls.name} runs in an environment of its own ({cls.environment}) and is evaluated over HTTP: "
            f"serve it there with `{serve_command(cls.name, cls.default_model_path)}` and run "
            f"`pytest --sseu-model={cls.name} --sseu-base-url=http://HOST:8000/v1` (see docs/models/commands.md)"
        )

    @classmethod
    def serve_hint(cls) -> str:
        return f"Start it with: {serve_command(cls.name, cls.default_model_path)}"
