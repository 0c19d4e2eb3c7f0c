"""A loopback chat-completions server that answers after a latency drawn per request, in its own process.

    python -m benchmarks.latency_server --median 0.2 --sigma 0.8 [--seed 0]   # lognormal, as real servers
    python -m benchmarks.latency_server --median 0.2 --sigma 0                # constant 200 ms

It prints its port, binds 127.0.0.1 only and exits when its stdin closes. The
client under test does not share a GIL with it. ``GET /stats`` returns what it
saw: requests, the sum of the latencies it slept, and its busy window (first
request's arrival to last answer's departure) on its own clock. Answers depend
on the audio (a checksum of the request's tail picks the words, scene and
event from small lists), so a harness's hearing check sees varied answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

WORDS = ("birch canoe", "smooth planks", "dark blue", "easy tell", "depth well", "glue sheet", "slid on", "the a")
SCENES = ("home", "cafe or restaurant", "city center", "grocery store", "metro station", "residential area")
EVENTS = ("dog", "blender", "dishes", "running water", "car", "footsteps", "birds singing", "alarm bell ringing")


def answer_for(raw: bytes) -> bytes:
    pick = zlib.crc32(raw[-4096:])
    text = (f"Transcript: {WORDS[pick % 8]}\nScene: {SCENES[(pick >> 3) % 6]}\n"
            f"Events: {EVENTS[(pick >> 6) % 8]}; {EVENTS[(pick >> 9) % 8]}")
    return json.dumps({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--median", type=float, default=0.2, help="median latency in seconds (0: answer at once)")
    parser.add_argument("--sigma", type=float, default=0.0, help="lognormal sigma (0: constant latency)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    lock = threading.Lock()
    stats = {"requests": 0, "latency_sum": 0.0, "first": None, "last": None}

    def draw() -> float:
        if args.median <= 0:
            return 0.0
        with lock:
            return float(args.median * np.exp(args.sigma * rng.standard_normal())) if args.sigma else args.median

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stall

        def do_GET(self):  # noqa: N802 - http.server's naming
            with lock:
                body = json.dumps(stats).encode()
            self._send(body)

        def do_POST(self):  # noqa: N802
            arrived = time.monotonic()
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            latency = draw()
            with lock:
                stats["first"] = arrived if stats["first"] is None else min(stats["first"], arrived)
            if latency:
                time.sleep(latency)
            self._send(answer_for(raw))
            with lock:
                stats["requests"] += 1
                stats["latency_sum"] += latency
                stats["last"] = time.monotonic()

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()  # until the benchmark closes the pipe


if __name__ == "__main__":
    main()
