"""A loopback server speaking OpenAI's chat-completions protocol, recording what clients send.

Binds 127.0.0.1 on a free port, answers in threads (at most `max_threads`
requests handled at once), and is shut down by `close` (use it as a context
manager). Scripted responses (`script`) let tests provoke 429s, 5xx errors
and slow answers; every request is kept with its headers and raw bytes.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # names in lower case
    raw: bytes
    body: dict


@dataclass
class Step:
    """One scripted reply: an HTTP error status (with headers), or a delay before the normal answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


HEARD = ("blender", "cat", "dishes", "frying", "car", "footsteps")  # one-word event names


def default_answer(body: dict) -> str:
    """A joint-style answer whose second event depends on the audio sent (so the hearing gate sees a listener);
    always as many words, so WERs stay where they were."""
    audio = [part.get("input_audio", {}).get("data") or part.get("audio_url", {}).get("url") or ""
             for message in body.get("messages", []) if isinstance(message.get("content"), list)
             for part in message["content"] if isinstance(part, dict) and part.get("type") != "text"]
    event = HEARD[zlib.crc32("".join(audio).encode()) % len(HEARD)]
    return f"Transcript: the birch canoe\nScene: home\nEvents: dog; {event}"


class ChatServer:
    def __init__(self, answer: Callable[[dict], str] = default_answer, delay: float = 0.0, max_threads: int = 32,
                 models: list[dict] | None = None) -> None:
        """`models`: what ``GET /v1/models`` lists, each entry stamped with the time of the request, as vLLM
        does (None: the route is missing, 404)."""
        self.seen: list[Seen] = []
        self.models = models
        self.script: list[Step] = []
        self.answer = answer
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_threads)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models" and server.models is not None:
                    stamped = [{**entry, "created": int(time.time() * 1000)} for entry in server.models]
                    self._send(200, {"object": "list", "data": stamped})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "test"}})

            def do_POST(self) -> None:  # noqa: N802
                with server._slots:
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    body = json.loads(raw or b"{}")
                    with server._lock:
                        server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body))
                        step = server.script.pop(0) if server.script else Step(delay=server.delay)
                        server.in_flight += 1
                        server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    try:
                        time.sleep(step.delay)
                        if step.status != 200:
                            self._send(step.status, {"error": {"message": f"scripted {step.status}", "type": "test"}},
                                       step.headers)
                            return
                        self._send(200, {
                            "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                            "model": body.get("model", ""),
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": server.answer(body)}}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        })
                    finally:
                        with server._lock:
                            server.in_flight -= 1

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ChatServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
