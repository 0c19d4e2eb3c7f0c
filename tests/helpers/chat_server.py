"""A loopback server speaking OpenAI's chat-completions protocol, recording what clients send: the fault server.

Binds 127.0.0.1 on a free port, answers in threads (at most `max_threads`
requests handled at once), and is shut down by `close` (use it as a context
manager). Scripted responses (`script`, one `Step` per request in arrival
order, then `fallback` for every later one) provoke each fault a served
model shows: HTTP errors, slow or silent answers, a connection closed or
reset after the request was read, a body that is not JSON, and any message
the server may send (content as parts, a number or null, a refusal, a
``finish_reason``). A new fault is one `Step` field away. Every request is
kept with its headers and raw bytes.

From a shell, one fault on every Nth request of a server that otherwise answers::

    python -m tests.helpers.chat_server --port 8001 --fault silent --every 3
"""

from __future__ import annotations

import json
import socket
import struct
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


_ANSWER = object()  # `Step.content` default: the server's `answer` for the request


@dataclass
class Step:
    """One scripted reply: an HTTP error status (with headers), or after `delay` the answer, made faulty by the
    fields below."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: str | None = None  # "close": read the request, close without a word; "reset": the same with a TCP RST
    raw: bytes | None = None  # a 200 whose body is these bytes (not JSON, no choices, ...)
    content: object = _ANSWER  # the message's content as sent: a str, a list of parts, a number, None
    refusal: str | None = None  # the message's refusal field
    finish_reason: str = "stop"
    error_body: str | None = None  # the error message of a non-200 status (else "scripted <status>")


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
                 port: int = 0, models: list[dict] | None = None) -> None:
        """`models`: what ``GET /v1/models`` lists, each entry stamped with the time of the request, as vLLM
        does (None: the route is missing, 404)."""
        self.seen: list[Seen] = []
        self.models = models
        self.script: list[Step] = []
        self.fallback: Step | None = None  # the step of every request after the script (None: a normal answer)
        self.every = 1  # the fallback applies to every `every`-th request after the script; the others are answered
        self.answer = answer
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.dead = False  # killed: every request is dropped unanswered
        self._slots = threading.BoundedSemaphore(max_threads)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models" and server.models is not None:
                    stamped = [{**entry, "created": int(time.time() * 1000)} for entry in server.models]
                    self._send(200, {"object": "list", "data": stamped})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "test"}})

            def do_POST(self) -> None:  # noqa: N802
                if server.dead:
                    self._drop("close")
                    return
                with server._slots:
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    body = json.loads(raw or b"{}")
                    with server._lock:
                        server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body))
                        faulty = server.fallback is not None and len(server.seen) % server.every == 0
                        step = server.script.pop(0) if server.script else (
                            server.fallback if faulty else Step(delay=server.delay))
                        server.in_flight += 1
                        server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    try:
                        time.sleep(step.delay)
                        if step.drop or server.dead:
                            self._drop(step.drop or "close")
                            return
                        if step.status != 200:
                            message = step.error_body or f"scripted {step.status}"
                            self._send(step.status, {"error": {"message": message, "type": "test"}}, step.headers)
                            return
                        if step.raw is not None:
                            self._send_bytes(200, step.raw, step.headers)
                            return
                        content = server.answer(body) if step.content is _ANSWER else step.content
                        message = {"role": "assistant", "content": content}
                        if step.refusal is not None:
                            message["refusal"] = step.refusal
                        self._send(200, {
                            "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                            "model": body.get("model", ""),
                            "choices": [{"index": 0, "finish_reason": step.finish_reason, "message": message}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        })
                    finally:
                        with server._lock:
                            server.in_flight -= 1

            def _drop(self, how: str) -> None:
                """Close the connection without answering; "reset" makes the close a TCP RST."""
                if how == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                self._send_bytes(status, json.dumps(payload).encode(), headers)

            def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout tests), or the server was killed
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kill(self) -> None:
        """Die as a killed process does: answer nothing more, drop the open connections, stop listening (new
        connections are refused)."""
        self.dead = True
        self._drop_connections()
        self.close()
        self._drop_connections()  # any accepted while the listener closed

    def _drop_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "ChatServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FAULTS: dict[str, Step] = {  # the --fault names of the command line: each is one Step
    "silent": Step(delay=3600.0), "slow": Step(delay=30.0), "close": Step(drop="close"), "reset": Step(drop="reset"),
    "429": Step(status=429, headers={"retry-after": "1"}), "500": Step(status=500), "503": Step(status=503),
    "not-json": Step(raw=b"<html>bad gateway</html>"), "no-choices": Step(raw=b'{"object": "chat.completion"}'),
    "null": Step(content=None), "empty": Step(content=""), "number": Step(content=7),
    "parts": Step(content=[{"type": "text", "text": "Scene: "}, {"type": "text", "text": "home"}]),
    "refusal": Step(content=None, refusal="I'm sorry, I cannot help with that."),
    "length": Step(content="", finish_reason="length"),
}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="A loopback chat-completions server with one fault.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fault", choices=sorted(FAULTS), default=None)
    parser.add_argument("--every", type=int, default=1, help="the fault on every Nth request (default: all)")
    args = parser.parse_args()
    server = ChatServer(port=args.port)
    server.fallback, server.every = (FAULTS[args.fault] if args.fault else None), max(1, args.every)
    print(f"serving at {server.base_url} (fault: {args.fault or 'none'}, every {server.every})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
