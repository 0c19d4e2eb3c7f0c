"""Serve one of our in-process adapters as an OpenAI-compatible chat endpoint (stdlib only).

Models that cannot share the harness's environment (Kimi-Audio, LTU-AS,
Step-Audio 2's native class) run this script in their own environment, with
this repository on ``PYTHONPATH``; the harness then evaluates them through
its ``openai`` client path (``--sseu-model=kimi-audio --sseu-base-url=...``)::

    python -m model_adapters.serve.openai_server --model kimi-audio \\
        --model-path moonshotai/Kimi-Audio-7B-Instruct --port 8000
    python -m model_adapters.serve.openai_server --model qwen2-audio --model-path /models/tiny --port 0
    python -m model_adapters.serve.openai_server --model my_pkg.my_module:MyAdapter --set key=value

It needs only the standard library, numpy and soundfile (soxr when a client
sends another sample rate than the model's), and keeps to Python 3.10.

The protocol (a subset of OpenAI's):

- ``POST /v1/chat/completions``: the last ``user`` (or ``human``) message's
  ``text`` parts, joined, are the prompt; its ``input_audio`` parts (base64
  WAV, or ``audio_url`` data URLs) are decoded, joined in order, made mono and
  resampled to the adapter's rate. A system message's text becomes the
  request's system turn for an adapter that takes one (``takes_system_prompt``;
  the model's chat template places it); any other adapter refuses it with 400
  rather than drop it. ``max_tokens`` (or ``max_completion_tokens``),
  ``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``, ``min_tokens``
  and ``seed`` become the adapter's decoding; the fields a request leaves
  out keep the decoding the server's adapter was configured with (greedy, or
  ``--set decoding=model``), as vLLM applies its model's defaults. The answer comes back as the assistant message's content.
- ``GET /v1/models`` lists the one served model; ``GET /health`` answers 200.
- ``GET /v1/sseu/identity``: what the clients fold into their store keys and
  reports (`served_configuration`): the adapter's class and settings (the
  server's own: eval mode, checkpoint, repetition penalty, system prompt) and
  fingerprints of the files its settings name.

Requests that arrive together are answered in one batch (up to
``--max-batch``, by default the adapter's own ``batch_size``, waiting at most
``--batch-wait-ms`` for company), one batch at a time: the adapter's batched
generation is what makes concurrency pay. An adapter that generates clip by
clip (``batch_size`` 1: Kimi-Audio, LTU-AS, Step-Audio 2) is not batched, so
each request is answered when its own generation finishes, not when the last
of a batch does (a CoT answer behind seven others once outlived the client's
timeout and was asked, and computed, twice). An
adapter that is itself a client of something concurrent (or thread-safe) may
run ``--workers N`` batches at once. With ``--max-batch 1`` there is nothing to
gather: each request is answered in its connection's own thread (at most
``--workers`` at once), without a hand-over to a batching thread and back.

With ``--api-key-env`` the key is checked before the body is read (a caller
without it cannot make the server read 64 MB), in constant time
(`hmac.compare_digest`).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import queue
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from model_server._compat import ensure_tomllib

ensure_tomllib()

import numpy as np  # noqa: E402

from model_adapters.families.inprocess import files_fingerprint  # noqa: E402
from model_adapters.families.text import DEFAULT_MAX_NEW_TOKENS, Decoding  # noqa: E402
from model_adapters.registry import BUILTIN  # noqa: E402
from model_adapters.utils.audio import read_wav, resample  # noqa: E402
from sseu_harness.adapter import Request  # noqa: E402
from sseu_harness.errors import SSEUError  # noqa: E402
from sseu_harness.models.resolve import find_factory, load_target  # noqa: E402
from sseu_harness.models.settings import parse_assignments  # noqa: E402

MAX_BODY = 64 * 1024 * 1024  # bytes of one request: base64 of ~30 min of 16 kHz PCM
MAX_DISCARD = 1024 * 1024  # a refused request's body up to this size is read and dropped, unparsed, so that
# closing the connection cannot reset it before the client reads its 401; a larger one is not read at all


class BadRequest(ValueError):
    """The request does not follow the protocol: answered with HTTP 400."""


def build_adapter(model: str, settings: dict[str, Any]) -> Any:
    """The in-process adapter for `model`: a served adapter's ``native`` class, else the adapter itself."""
    factory = find_factory(model, BUILTIN)
    native = getattr(factory, "native", "")
    if native:
        factory = load_target(model, native)
    return factory(**settings)


def served_configuration(adapter: Any, served_name: str) -> dict[str, Any]:
    """What answers depend on beyond the request: the adapter's class, settings and weights, as plain JSON."""
    settings = getattr(adapter, "settings", None) or {}
    values = getattr(adapter, "values", None) or settings
    identity = {
        "adapter": f"{type(adapter).__module__}.{type(adapter).__qualname__}",
        "name": getattr(adapter, "name", None),
        "served_name": served_name,
        "sample_rate": int(adapter.sample_rate),
        "settings": settings,
        "files": files_fingerprint(values) if isinstance(values, dict) else {},
    }
    return json.loads(json.dumps(identity, default=str))


def parse_chat(body: dict[str, Any], sample_rate: int) -> tuple[str, np.ndarray, str | None]:
    """(prompt, mono float32 audio at `sample_rate`, system text or None) of a chat-completions request body."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    systems = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"]
    if any(not isinstance(text, str) for text in systems):
        raise BadRequest("a system message's content must be a string")
    system = "\n".join(systems) or None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") in ("user", "human")]
    if not users:
        raise BadRequest("no user message")
    content = users[-1].get("content")
    if isinstance(content, str):
        raise BadRequest("the user message has no audio: send an input_audio content part")
    if not isinstance(content, list):
        raise BadRequest("the user message's content must be a list of parts")
    texts: list[str] = []
    clips: list[np.ndarray] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            clips.append(_decode_audio(audio.get("data", ""), sample_rate))
        elif kind == "audio_url":
            url = (part.get("audio_url") or {}).get("url", "")
            if not url.startswith("data:") or "," not in url:
                raise BadRequest("audio_url must be a data: URL (base64); this server fetches nothing")
            clips.append(_decode_audio(url.partition(",")[2], sample_rate))
        else:
            raise BadRequest(f"unsupported content part type {kind!r}")
    if not clips:
        raise BadRequest("the user message has no audio: send an input_audio content part")
    return "\n".join(t for t in texts if t), np.concatenate(clips).astype(np.float32), system


def _decode_audio(data: str, sample_rate: int) -> np.ndarray:
    try:
        raw = base64.b64decode(data, validate=True)
        audio, rate = read_wav(raw)
    except Exception as exc:  # noqa: BLE001 - any decoding problem is the client's
        raise BadRequest(f"cannot decode input_audio (base64 WAV expected): {exc}") from None
    return resample(audio, rate, sample_rate)


def decoding_of(body: dict[str, Any], default: Decoding | None = None) -> Decoding:
    """The request's decoding: each field it sets, the rest as `default` (the served adapter's own) or greedy."""
    tokens = next((body[k] for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None),
                  DEFAULT_MAX_NEW_TOKENS["independent"])
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
        raise BadRequest("max_tokens must be a positive integer")
    base = default or Decoding(max_new_tokens=tokens)
    given = body.get("temperature")
    temperature = base.temperature if given is None else float(given)
    if temperature < 0:
        raise BadRequest("temperature must be >= 0")
    from_model = base.from_model and given is None
    top_p = body.get("top_p", base.top_p)
    seed = body.get("seed")
    return Decoding(
        max_new_tokens=tokens,
        temperature=temperature,
        top_p=float(top_p) if top_p is not None and temperature > 0 else None,
        seed=int(seed or 0) if temperature > 0 or from_model else None,
        top_k=_optional(body, "top_k", int, base.top_k),
        repetition_penalty=_optional(body, "repetition_penalty", float, base.repetition_penalty),
        min_new_tokens=_optional(body, "min_tokens", int, base.min_new_tokens),
        from_model=from_model,
    )


def _optional(body: dict[str, Any], field: str, kind: type, default: Any) -> Any:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (kind is int and value != int(value)):
        raise BadRequest(f"{field} must be a number >= 0" + (" (an integer)" if kind is int else ""))
    return kind(value)


def own_decoding(adapter: Any) -> Decoding | None:
    """The decoding the served adapter was configured with (its settings), for requests that leave it open."""
    decoding_for = getattr(adapter, "decoding_for", None)
    return decoding_for("independent", 0) if callable(decoding_for) else None


class Batcher:
    """`workers` threads answer queued requests in batches of equal decoding (or, unbatched, the callers do)."""

    def __init__(self, adapter: Any, max_batch: int, wait_s: float, workers: int = 1) -> None:
        self.adapter = adapter
        self.max_batch = max(1, max_batch)
        self.wait_s = wait_s
        self.queue: queue.Queue = queue.Queue()
        self.batches: list[int] = []  # sizes of the batches run (for tests and logs)
        self._unbatched = threading.BoundedSemaphore(max(1, workers))  # calls at once when max_batch is 1
        self._threads = [threading.Thread(target=self._run, name=f"sseu-batcher-{k}", daemon=True)
                         for k in range(max(1, workers) if self.max_batch > 1 else 0)]
        for thread in self._threads:
            thread.start()

    def answer(self, request: Request, decoding: Decoding) -> str:
        """The answer to one request (raises what the adapter raised)."""
        if self.max_batch > 1:
            return self.submit(request, decoding).result()
        future: Future = Future()
        with self._unbatched:
            self._answer([(request, decoding, future)], decoding)
        return future.result()

    def submit(self, request: Request, decoding: Decoding) -> Future:
        future: Future = Future()
        self.queue.put((request, decoding, future))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self.queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self) -> None:
        pending: list[tuple[Request, Decoding, Future]] = []
        while True:
            if not pending:
                item = self.queue.get()
                if item is None:
                    return
                pending.append(item)
            deadline = time.monotonic() + self.wait_s
            stop = False
            while len(pending) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    item = self.queue.get(timeout=max(left, 0)) if left > 0 else self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                pending.append(item)
            if stop:
                for _, _, future in pending:
                    future.set_exception(RuntimeError("the server is shutting down"))
                return
            decoding = pending[0][1]
            chosen = [i for i, p in enumerate(pending) if p[1] == decoding][: self.max_batch]
            batch = [pending[i] for i in chosen]
            pending = [p for i, p in enumerate(pending) if i not in set(chosen)]
            self._answer(batch, decoding)

    def _answer(self, batch: list, decoding: Decoding) -> None:
        requests = [r for r, _, _ in batch]
        self.batches.append(len(batch))
        try:
            if hasattr(self.adapter, "generate"):
                answers = self.adapter.generate(requests, decoding)
            else:
                answers = self.adapter.answer(requests)
            for answer in answers:
                if not isinstance(answer, str):
                    raise TypeError(f"the adapter answers {type(answer).__name__}, not text: serve only text models")
        except Exception as exc:  # noqa: BLE001 - reported to every waiting client
            for _, _, future in batch:
                future.set_exception(exc)
            return
        for (_, _, future), answer in zip(batch, answers):
            future.set_result(answer)


def make_handler(served_name: str, batcher: Batcher, sample_rate: int, api_key: str | None,
                 slots: threading.BoundedSemaphore, quiet: bool, identity: dict[str, Any]):
    expected = f"Bearer {api_key}".encode("utf-8") if api_key is not None else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once: no delayed-ACK stall per answer

        def log_message(self, fmt: str, *args: Any) -> None:
            if not quiet:
                sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": status}})

        def _authorized(self) -> bool:
            """The key, compared in constant time; a refused request's body is never read (connection closed)."""
            if expected is None:
                return True
            given = self.headers.get("Authorization", "").encode("utf-8", "replace")
            if hmac.compare_digest(given, expected):
                return True
            self.close_connection = True
            self._error(401, "invalid API key", "authentication_error")
            length = int(self.headers.get("Content-Length") or 0) if self.command == "POST" else 0
            if 0 < length <= MAX_DISCARD:
                try:
                    self.connection.settimeout(2.0)  # a caller that never sends it holds no thread for long
                    self.rfile.read(length)
                except OSError:
                    pass
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok"})
            elif self.path.rstrip("/") == "/v1/models":
                if self._authorized():
                    self._send(200, {"object": "list", "data": [
                        {"id": served_name, "object": "model", "created": 0, "owned_by": "sseu-harness"}]})
            elif self.path.rstrip("/") == "/v1/sseu/identity":
                if self._authorized():
                    self._send(200, identity)
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._error(404, f"no route {self.path}")
                return
            if not self._authorized():
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                self._error(413, f"request body over {MAX_BODY} bytes")
                return
            raw = self.rfile.read(length)
            with slots:
                try:
                    body = json.loads(raw)
                    if body.get("stream"):
                        raise BadRequest("streaming is not supported")
                    prompt, audio, system = parse_chat(body, sample_rate)
                    if system is not None and not getattr(batcher.adapter, "takes_system_prompt", False):
                        raise BadRequest(f"the served model {served_name} takes no system prompt; send none "
                                         "(the client's system_prompt setting)")
                    decoding = decoding_of(body, own_decoding(batcher.adapter))
                except (BadRequest, ValueError, AttributeError) as exc:
                    self._error(400, str(exc))
                    return
                request = Request(None, audio, prompt, None, "independent", int(decoding.seed or 0),  # type: ignore[arg-type]
                                  system=system)
                try:
                    text = batcher.answer(request, decoding)
                except SSEUError as exc:
                    self._error(500, str(exc), "server_error")
                    return
                except Exception as exc:  # noqa: BLE001 - the model failed on this request
                    self._error(500, f"{type(exc).__name__}: {exc}", "server_error")
                    return
            self._send(200, {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or served_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            })

    return Handler


class ModelServer:
    """The HTTP server around one adapter; `serve_forever` in the foreground or `start` in a thread."""

    def __init__(self, adapter: Any, served_name: str, host: str = "127.0.0.1", port: int = 8000,
                 max_batch: int | None = None, batch_wait_ms: float = 20.0, max_pending: int = 64,
                 api_key: str | None = None, quiet: bool = True, workers: int = 1) -> None:
        self.adapter = adapter
        if max_batch is None:  # the adapter's own batch: one that generates clip by clip answers each at once
            max_batch = int(getattr(adapter, "batch_size", 1) or 1)
        self.batcher = Batcher(adapter, max_batch, batch_wait_ms / 1000.0, workers)
        self.identity = served_configuration(adapter, served_name)
        handler = make_handler(served_name, self.batcher, int(adapter.sample_rate), api_key,
                               threading.BoundedSemaphore(max_pending), quiet, self.identity)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "ModelServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sseu-model-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.batcher.close()
        closer = getattr(self.adapter, "close", None)
        if closer:
            closer()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_adapters.serve.openai_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model name (kimi-audio, qwen2-audio, ...) or package.module:factory")
    parser.add_argument("--model-path", default=None, help="the adapter's 'model' setting (hub id, folder, checkpoint)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="another adapter setting (repeatable)")
    parser.add_argument("--served-model-name", default=None, help="the name /v1/models lists (default: --model)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--max-batch", type=int, default=None,
                        help="requests answered in one batch (default: the adapter's batch_size)")
    parser.add_argument("--batch-wait-ms", type=float, default=20.0, help="how long a batch waits for company")
    parser.add_argument("--max-pending", type=int, default=64, help="requests handled at once; more wait")
    parser.add_argument("--workers", type=int, default=1,
                        help="batches answered at once (only for thread-safe adapters, e.g. clients of another server)")
    parser.add_argument("--api-key-env", default=None, help="NAME of an environment variable: require its value as Bearer key")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        settings = parse_assignments(args.set, "--set")
        if args.model_path:
            settings["model"] = args.model_path
        adapter = build_adapter(args.model, settings)
    except SSEUError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        print(f"error: --api-key-env {args.api_key_env}: the variable is not set", file=sys.stderr)
        return 2
    server = ModelServer(adapter, args.served_model_name or args.model, args.host, args.port, args.max_batch,
                         args.batch_wait_ms, args.max_pending, api_key, quiet=not args.verbose, workers=args.workers)
    print(f"serving {args.model} at {server.base_url} (model name {args.served_model_name or args.model})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
