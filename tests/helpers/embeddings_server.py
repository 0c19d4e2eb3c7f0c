"""A real HTTP server on loopback speaking OpenAI's POST /v1/embeddings, with deterministic vectors per text.

Used by the embedder's unit tests and by sessions that score through the paper's (OpenAI) embedder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def fake_vector(text: str, dim: int = 8) -> np.ndarray:
    """A deterministic, not normalised vector per text (a stand-in for a model)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32) + 0.5


class EmbeddingsServer:
    """A real HTTP server on 127.0.0.1 speaking OpenAI's POST /v1/embeddings."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_next: list[tuple[int, dict]] = []  # (status, body) answered before succeeding
        self.shuffle = False
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(
                        {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
                    )
                    failure = server.fail_next.pop(0) if server.fail_next else None
                if self.path != "/v1/embeddings":
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                if failure:
                    return self._send(failure[0], failure[1], {"retry-after-ms": "10"})
                data = []
                for i, text in enumerate(body["input"]):
                    vector = fake_vector(text, dim=16)
                    if body.get("encoding_format") == "base64":
                        encoded: object = base64.b64encode(vector.astype("<f4").tobytes()).decode()
                    else:
                        encoded = [float(x) for x in vector]
                    data.append({"object": "embedding", "index": i, "embedding": encoded})
                if server.shuffle:
                    random.Random(len(server.requests)).shuffle(data)
                n = sum(len(t.split()) for t in body["input"])
                self._send(
                    200,
                    {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": n, "total_tokens": n}},
                )

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
