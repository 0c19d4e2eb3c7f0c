"""Chat completions against one or several OpenAI-compatible endpoints, a bounded number at a time.

Several replicas of one served model share the load: each request goes to
the least-busy replica (fewest requests in flight), and a request that cannot
reach its replica (connection refused, timeout) is tried at once on another
(without using up a retry); the unreachable replica is avoided for `DOWN_S`
seconds. Retries with exponential backoff on 408/409/429/5xx honour the
server's ``retry-after`` / ``retry-after-ms`` headers (`max_retries` per
request, over all replicas). With ``adaptive`` on, each replica's concurrency
limit halves on a 429 or 503 and grows back by one per limit's worth of
answers (AIMD), up to `concurrency`.

Bounds. A call given a deadline (the harness's ``--sseu-timeout``) ends by it
whatever its retries: each attempt's socket timeout is the smaller of
`timeout` and the time left, and no backoff runs past it, so a call the
harness abandons frees its concurrency slot and connection then. A circuit
breaker gives up on a dead or silent server: after `give_up_after`
consecutive attempts (over all calls and replicas) that could not connect or
timed out, every call fails at once with one message (`EndpointGaveUp`).

Answers. The first choice's ``message.content``: a string as it is (``""``
too: the model said nothing), a list of parts joined from its text parts; a
``refusal`` is the refusal `REFUSAL_ANSWER` (counted as one by the parser);
``null`` content is a glitch, retried like a 5xx; empty content cut by
``finish_reason: length`` and content of any other type are failures that say
so. None of these failures is stored, so a rerun asks again.

Transport: a replica at a plain ``http://`` URL (a local or in-cluster server)
gets one keep-alive `http.client` connection per calling thread (`KeepAlive`);
any other (HTTPS, a proxy in the environment, credentials in the URL) gets an
`httpx.Client` (pooled, proxies and TLS as httpx gives them). The body comes as
JSON bytes (`encode_body`, built by the caller, ahead of the call when it can) and
is sent as it is on every attempt; the answer is read with `json.loads`. The
openai client was the transport before: its request path (retry wrapper, typed
response parsing) cost about a millisecond of CPU per request, most of a core
at the rates a served model answers. The API key lives only in the
Authorization header (sent only when a key is set): httpx's exceptions carry
the request (and so the header), so errors are translated into ours and never
chained, and the key is redacted from every message.
"""

from __future__ import annotations

import http.client
import json
import random
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterable
from urllib.parse import urlsplit, urlunsplit
from urllib.request import getproxies, proxy_bypass

from sseu_harness.errors import ConfigError, ModelGaveUp, SSEUError
from sseu_harness.redaction import redact

# Statuses that retrying cannot fix: the key, the model name or the request is wrong.
_CONFIG_STATUSES = {400, 401, 403, 404, 422}
_RETRY_STATUSES = {408, 409, 429}  # and every 5xx
_BACKOFF_STATUSES = {429, 503}  # the server asks for less: adaptive concurrency backs off
DOWN_S = 5.0  # how long an unreachable replica is avoided
MAX_RETRY_AFTER_S = 60.0
MAX_ERROR_BODY = 65_536  # bytes of an error body read for its message (redacted whole, then cut to 500 characters)
# What a `refusal` field becomes: a phrase data/refusals.toml declines for every field and mode.
REFUSAL_ANSWER = "I can't help with this request."


class EndpointError(SSEUError):
    """The endpoint kept failing (rate limit, 5xx, timeout, unreachable) after all retries."""


class EndpointGaveUp(EndpointError, ModelGaveUp):
    """The circuit breaker is open: the server could not be reached too many times in a row."""


class _Glitch(Exception):
    """A 200 whose answer is missing (``content: null``): retried like a 5xx."""


def split_urls(text: str | list[str] | None) -> list[str]:
    """Base URLs from a comma list or a list (a setting, a repeated option), in order, without duplicates."""
    if not text:
        return []
    parts = text if isinstance(text, list) else text.split(",")
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def public_urls(text: str | None) -> str | None:
    """`public_url` of each of several comma-separated base URLs."""
    urls = split_urls(text)
    return ",".join(public_url(u) or "" for u in urls) if urls else text


def url_problem(url: str) -> str | None:
    """What is wrong with a base URL (no http(s) scheme, no host, a port that is not one), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in 0-65535
    except ValueError as exc:
        return f"is malformed ({exc})"
    if parts.scheme not in ("http", "https"):
        return "does not start with http:// or https://"
    if not parts.hostname:
        return "names no host"
    return None


def public_url_or_raw(url: str) -> str:
    """`public_url`, or for a URL too malformed to take apart, the text up to its first '@' (no credentials)."""
    try:
        return public_url(url) or url
    except ValueError:
        return url.rpartition("@")[2] if "@" in url else url


def public_url(url: str | None) -> str | None:
    """A base URL without user:password or query string, fit for settings, records and messages."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


@dataclass(eq=False)
class Replica:
    url: str
    client: Any
    limit: float  # requests it may have in flight (adaptive: shrinks on 429/503, grows on answers)
    in_flight: int = 0
    sent: int = 0
    down_until: float = 0.0
    last_backoff: float = 0.0


class ChatClient:
    def __init__(self, model: str, base_url: str, api_key: str | None, *, concurrency: int = 8,
                 timeout: float = 120.0, max_retries: int = 5, hint: str = "", adaptive: bool = False,
                 give_up_after: int = 10) -> None:
        httpx = _httpx(model)
        self.model = model
        self.base_url = base_url
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.give_up_after = give_up_after  # 0: never
        self.unreachable_in_row = 0
        self.gave_up: EndpointGaveUp | None = None
        self.hint = hint
        self.adaptive = adaptive
        self._key = api_key or ""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:  # a local vLLM needs no key: none is sent
            headers["authorization"] = f"Bearer {api_key}"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.replicas = [Replica(url, KeepAlive(url, headers, timeout) if KeepAlive.fits(url) else
                                 httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(timeout),
                                              limits=limits, follow_redirects=True), float(concurrency))
                         for url in split_urls(base_url)]
        self._http = httpx
        self._unreachable = (httpx.TransportError, OSError, http.client.HTTPException)
        self._state = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sseu-{model}")

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, base_url={public_urls(self.base_url)!r}, concurrency={self.concurrency})"

    def complete_many(self, bodies: Iterable[bytes], within: float | None = None,
                      timeout: float | None = None) -> list[str]:
        """The answer text of each request body (`encode_body`), in order; raises on the first that finally failed.
        `within`: seconds the whole call may take (None: no bound beyond the retries'); `timeout`: seconds per
        attempt (None: the client's)."""
        deadline = None if within is None else time.monotonic() + within
        bodies = list(bodies) if not isinstance(bodies, list) else bodies
        if len(bodies) == 1:  # the harness's stream sends one at a time from its own threads
            return [self.complete(bodies[0], deadline, timeout)]
        return list(self._pool.map(lambda body: self.complete(body, deadline, timeout), bodies))

    def complete(self, body: bytes, deadline: float | None = None, timeout: float | None = None) -> str:
        """The answer text of one request body, sent as it is on every attempt, by `deadline` (monotonic), each
        attempt within `timeout` seconds (None: the client's)."""
        timeout = timeout or self.timeout
        error: SSEUError | None = None
        retries = 0
        tried: set[int] = set()  # replicas that could not be reached since the last retry
        while True:
            if self.gave_up is not None:
                raise EndpointGaveUp(str(self.gave_up))  # a fresh one: calls in many threads raise it
            replica = self._acquire(deadline)
            limit = timeout if deadline is None else min(timeout, deadline - time.monotonic())
            if limit <= 0:
                self._release(replica, ok=False)
                error = self._late(error)
                break
            wait = None
            try:
                response = replica.client.post("chat/completions", content=body, timeout=limit)
                status = response.status_code
            except self._unreachable as exc:  # refused, reset or timed out: try another replica
                self._release(replica, ok=False)
                what = f"{type(exc).__name__}: {exc}"
                error = self._translate(what, None, replica, unreachable=True)
                self._count_unreachable(f"{public_url(replica.url)}: {self._redact(what)}")
                tried.add(id(replica))
                wait = self._down(replica, retries, tried)
                if wait is None:
                    continue  # another replica is up and untried: not a retry
            except BaseException as exc:
                self._release(replica, ok=False)
                if not isinstance(exc, (self._http.HTTPError, self._http.InvalidURL)):
                    raise
                error = self._translate(f"{type(exc).__name__}: {exc}", None, replica)
                break
            else:
                self.unreachable_in_row = 0  # it answered: whatever it said, it is alive
                if status < 400:
                    self._release(replica, ok=True)
                    try:
                        return self._content(response, replica)
                    except _Glitch as glitch:
                        error = EndpointError(f"{self.model} at {public_url(replica.url)} failed after "
                                              f"{self.max_retries} retries: {glitch}")
                        wait = _backoff(retries)
                else:
                    self._release(replica, ok=False)
                    error = self._translate(_error_text(response, self._key), status, replica)
                    if status in _CONFIG_STATUSES or not (status in _RETRY_STATUSES or status >= 500):
                        break
                    wait = self._throttled(replica, status, response.headers, retries)
            if retries >= self.max_retries:
                break
            if deadline is not None and time.monotonic() + (wait or 0.0) >= deadline:
                error = self._late(error)
                break
            retries += 1
            tried.clear()
            if wait:
                time.sleep(wait)
        assert error is not None
        raise error  # outside any except block: no chained httpx exception (it holds the key)

    def _late(self, last: SSEUError | None) -> EndpointError:
        return EndpointError(f"{self.model}: no answer within the call's time limit (--sseu-timeout)"
                             + (f"; last: {last}" if last is not None else ""))

    def _content(self, response: Any, replica: Replica) -> str:
        """The first choice's message text of a chat completion (see the module's "Answers")."""
        where = f"{self.model} at {public_url(replica.url)}"
        try:
            choices = json.loads(response.content)["choices"]
            if not choices:
                raise EndpointError(f"{where} returned no choices")
            choice = choices[0]
            message = choice["message"]
            content, refusal = message.get("content"), message.get("refusal")
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            error = EndpointError(f"{where} returned something that is not a chat "
                                  f"completion: {_error_text(response, self._key)}")
        else:
            if isinstance(refusal, str) and refusal.strip():
                return REFUSAL_ANSWER
            if isinstance(content, list):
                texts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
                if not texts and content:
                    raise EndpointError(f"{where} answered content parts without text: "
                                        f"{sorted({str(p.get('type')) if isinstance(p, dict) else type(p).__name__ for p in content})}")
                content = "".join(texts)
            finish = choice.get("finish_reason") if isinstance(choice, dict) else None
            if finish == "length" and not content:
                raise EndpointError(f"{where} stopped at max_tokens (finish_reason 'length') before any answer "
                                    "text: raise max_new_tokens")
            if content is None:
                raise _Glitch(f"{where} answered a 200 without content (content: null)")
            if isinstance(content, str):
                return content
            error = EndpointError(f"{where} answered content of type {type(content).__name__}, not text: "
                                  f"{_error_text(response, self._key)}")
        raise error

    # --- replicas -------------------------------------------------------------------------------

    def _acquire(self, deadline: float | None = None) -> Replica:
        """The least-busy reachable replica with room under its limit (waits while all are at their limit,
        up to `deadline`)."""
        with self._state:
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    raise EndpointError(f"{self.model}: no free request slot within the call's time limit "
                                        f"(--sseu-timeout); {self.concurrency} requests were in flight")
                now = time.monotonic()
                up = [r for r in self.replicas if r.down_until <= now] or \
                    [min(self.replicas, key=lambda r: r.down_until)]
                free = [r for r in up if r.in_flight < max(1, int(r.limit))]
                if free:
                    replica = min(free, key=lambda r: (r.in_flight / max(r.limit, 1.0), r.sent))
                    replica.in_flight += 1
                    replica.sent += 1
                    return replica
                self._state.wait(timeout=0.5)

    def _release(self, replica: Replica, ok: bool) -> None:
        with self._state:
            replica.in_flight -= 1
            if ok:
                replica.down_until = 0.0
                if self.adaptive and replica.limit < self.concurrency:
                    replica.limit = min(float(self.concurrency), replica.limit + 1.0 / replica.limit)
            self._state.notify_all()

    def _down(self, replica: Replica, attempt: int, tried: set[int]) -> float | None:
        """Avoid an unreachable replica for a while; None (try now) when another one is up and not yet tried,
        else the backoff before a retry."""
        with self._state:
            replica.down_until = time.monotonic() + DOWN_S
            others_up = any(r.down_until <= time.monotonic() for r in self.replicas if id(r) not in tried)
        return None if others_up else _backoff(attempt)

    def _count_unreachable(self, last: str) -> None:
        """The circuit breaker: after `give_up_after` unreachable attempts in a row, every call fails at once."""
        with self._state:
            self.unreachable_in_row += 1
            if self.give_up_after and self.unreachable_in_row >= self.give_up_after and self.gave_up is None:
                self.gave_up = EndpointGaveUp(
                    f"gave up on {self.model} at {public_urls(self.base_url)}: {self.unreachable_in_row} requests "
                    f"in a row could not connect or timed out (last: {last}); its remaining clips fail at once. "
                    "The answers so far are stored: once the server answers, rerun to ask only for the rest"
                    + (f". {self.hint}" if self.hint else ""))

    def _throttled(self, replica: Replica, status: int, headers: Any, attempt: int) -> float:
        if self.adaptive and status in _BACKOFF_STATUSES:
            with self._state:
                now = time.monotonic()
                if now - replica.last_backoff > 0.5:  # one halving per burst of refusals
                    replica.limit = max(1.0, replica.limit / 2)
                    replica.last_backoff = now
        after = _retry_after(headers)
        return after if after is not None else _backoff(attempt)

    def _redact(self, message: str) -> str:
        return redact(message, [self._key]) if self._key else message

    def _translate(self, message: str, status: int | None, replica: Replica | None = None,
                   unreachable: bool = False) -> SSEUError:
        message = self._redact(message)
        url = replica.url if replica is not None and len(self.replicas) > 1 else self.base_url
        where = f"{self.model} at {public_urls(url)}"
        if status in (401, 403):
            return ConfigError(f"{where} refused the API key (HTTP {status}): {message}; check the key's environment variable")
        if status in _CONFIG_STATUSES:
            return ConfigError(f"{where} rejected the request (HTTP {status}): {message}; check the model name and base URL")
        if unreachable:
            return EndpointError(
                f"cannot reach {where} after {self.max_retries} retries: {message}; is the server running?"
                + (f" {self.hint}" if self.hint else "")
            )
        return EndpointError(f"{where} failed after {self.max_retries} retries: {message}")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for replica in self.replicas:
            replica.client.close()


def encode_body(payload: dict[str, Any]) -> bytes:
    """The request body as JSON: the payload with its ``extra_body`` fields merged in, as `create` would send it."""
    extra = payload.get("extra_body")
    body = {k: v for k, v in payload.items() if k != "extra_body"}
    return json.dumps({**body, **extra} if extra else body, separators=(",", ":")).encode()


def _backoff(attempt: int) -> float:
    """openai's own schedule: 0.5 s doubling up to 8 s, minus up to 25 % jitter."""
    return min(0.5 * 2.0 ** attempt, 8.0) * (1 - 0.25 * random.random())


@dataclass(frozen=True)
class Reply:
    """What `KeepAlive.post` read: the parts of an `httpx.Response` this module uses."""

    status_code: int
    reason_phrase: str
    headers: Any
    content: bytes


class KeepAlive:
    """Plain-HTTP POSTs over one keep-alive `http.client` connection per thread: less CPU per request than httpx.

    Used for ``http://`` URLs without credentials, query or a proxy in the environment
    (a local or in-cluster server); anything else goes through httpx.
    """

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.path = parts.path.rstrip("/") + "/chat/completions"
        self.headers, self.timeout = headers, timeout
        self._conns: dict[int, http.client.HTTPConnection] = {}  # by thread

    @staticmethod
    def fits(url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme == "http" and not parts.username and not parts.query and bool(parts.hostname)
                and not ("http" in getproxies() and not proxy_bypass(parts.hostname or "")))

    def post(self, _path: str, content: bytes, timeout: float | None = None) -> Reply:
        """One POST, sent once: a reused connection the server has closed is replaced before sending, never
        resent after (the server may have processed it); a failure is the caller's attempt to count."""
        thread = threading.get_ident()
        conn = self._conns.get(thread)
        if conn is not None and (conn.sock is None or _readable(conn.sock)):  # idle and readable: closed by the peer
            conn.close()
            conn = None
        if conn is None:
            conn = self._conns[thread] = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.timeout = self.timeout if timeout is None else timeout
        if conn.sock is not None:
            conn.sock.settimeout(conn.timeout)
        return self._send(conn, content)

    def _send(self, conn: http.client.HTTPConnection, content: bytes) -> Reply:
        try:
            conn.request("POST", self.path, body=content, headers=self.headers)
            response = conn.getresponse()
            return Reply(response.status, response.reason, response.headers, response.read())
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        for conn in list(self._conns.values()):
            conn.close()


def _httpx(model: str) -> ModuleType:
    """The httpx that openai installs: ``httpx2`` from openai 3 on, ``httpx`` before (same API)."""
    import importlib

    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ConfigError(f"model {model} needs package httpx: pip install openai (which installs it) or pip install httpx")


def _error_text(response: Any, key: str) -> str:
    """What a refusing server said: its body or else the status line, the key (or a piece of it from its start)
    redacted before the text is cut at 500 characters, so that no cut can leave a piece of it unrecognised."""
    text = redact(response.content[:MAX_ERROR_BODY].decode("utf-8", "replace"), [key] if key else [])
    return f"HTTP {response.status_code} {text.strip()[:500] or response.reason_phrase}"


def _readable(sock: Any) -> bool:
    """True when an idle connection has something to read: the peer closed it (or sent what nobody asked)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _retry_after(headers: Any) -> float | None:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if 0 < seconds <= MAX_RETRY_AFTER_S:
            return seconds
    return None
