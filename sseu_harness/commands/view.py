"""Serve a local page over a report and its data set: every clip's answers at every SNR, and its audio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.report.history import History
from sseu_harness.report.reader import load_report_dir
from sseu_harness.report.viewer import make_server, open_site

HELP = "a local page over a report: hear each clip as the model heard it, next to its answers at every SNR"
DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", type=Path, nargs="?", default=Path("sseu-report"),
                        help="a report directory or one of its run folders (default: ./sseu-report)")
    parser.add_argument("--data", default=None, metavar="SET",
                        help="the data set (manifest or its folder; default: the one the report recorded)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    parser.add_argument("--allow-roots", action="store_true",
                        help="let the manifest header's roots reach folders outside the set's folder")
    parser.add_argument("--accept-mismatch", action="store_true",
                        help="serve even when the data set's SHA-256 or the mixer version differs from the report's")


def run(args: argparse.Namespace) -> int:
    report = load_report_dir(History(args.report_dir).latest() or args.report_dir)
    site = open_site(report, args.data, args.accept_mismatch, args.allow_roots)
    for name, real in site.manifest.resolved_roots().items():
        print(f"sseu view: root {name}: {real}", file=sys.stderr)
    for note in site.check.mismatches + site.check.warnings:
        print(f"sseu view: warning: {note}", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"sseu view: warning: {args.host} may be reachable from other machines; the page serves the "
              "data set's audio to anyone who can reach it", file=sys.stderr)
    try:
        server = make_server(site, args.host, args.port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port") from None
    host, port = server.server_address[:2]
    print(f"sseu view: {report.path} on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
