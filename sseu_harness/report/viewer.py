"""`sseu view`: a local page over a report and its data set, to read and hear what a model did.

Pages (GET only; anything else is a 404):

* ``/``: the report's cases, grouped by model, task and mode, with the checks on the data set;
* ``/case/<case id>``: each clip of the case's slice (model, task, mode) in a row: the speech
  alone, the background alone, then per SNR the mixture the model heard and its answer;
* ``/audio/<case id>/<clip id>/{mixture,speech,background}.wav``: rendered on demand by the
  deterministic mixer at the model's sample rate, never stored.

No file is served from disk: audio is only ever rendered from the items of the
loaded manifest, whose paths are checked to stay inside the set (and its roots
inside the set's folder unless allowed), so an unknown case or clip, or any
other path, is a 404. A request whose ``Host`` header names neither an IP
address, ``localhost`` nor the address the page was bound to gets a 403: a
page on another site that rebinds its DNS name to 127.0.0.1 cannot read it.
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import threading
from dataclasses import dataclass, field
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import groupby
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import soundfile as sf

from sseu_harness.dataset.manifest import Item, Manifest, load_manifest
from sseu_harness.dataset.mixer import MIX_RATE, MIXER_VERSION, Mixer
from sseu_harness.errors import ConfigError
from sseu_harness.report.reader import ReportDir
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.snr import parse_snr, snr_label, sort_key
from sseu_harness.spec.tasks import TASK

KINDS = {"mixture": None, "speech": math.inf, "background": -math.inf}  # kind -> SNR (None: the case's own)
SHOWN_ANSWER = 600
HTML = "text/html; charset=utf-8"

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f0f0f0}
pre{white-space:pre-wrap;word-break:break-word;margin:0;max-width:28em;font-size:12px}
audio{width:12em;height:2em;display:block}.warn{background:#fec;padding:.5em;border:1px solid #da3}
.bad{background:#fee}.good{background:#efe}
"""


@dataclass
class DataCheck:
    """What differs between the report's meta and the data set and mixer at hand."""

    mismatches: list[str] = field(default_factory=list)  # refuse unless the user accepts them
    warnings: list[str] = field(default_factory=list)


def check_data(meta: dict, manifest: Manifest) -> DataCheck:
    check = DataCheck()
    expected = meta.get("manifest", {}).get("sha256")
    if expected != manifest.sha256:
        check.mismatches.append(f"the data set {manifest.path} has SHA-256 {manifest.sha256[:12]}…, the report ran "
                                f"{str(expected)[:12]}…: the clips may not be those the model heard")
    mixer = meta.get("mixer")
    if mixer is None:
        check.warnings.append(f"the report does not record its mixer version; this harness mixes with {MIXER_VERSION}, "
                              "which may not be the mixture the model heard")
    elif mixer != MIXER_VERSION:
        check.mismatches.append(f"the report was mixed by {mixer}, this harness mixes with {MIXER_VERSION}: "
                                "the mixtures would differ from what the model heard")
    return check


class Site:
    """A report, its rows by case, and the data set to render its clips from."""

    def __init__(self, report: ReportDir, manifest: Manifest, check: DataCheck) -> None:
        self.report, self.manifest, self.check = report, manifest, check
        self.records = {r.case: r for r in report.case_records}
        self.rows: dict[str, dict[str, list[ClipRow]]] = {}  # case -> clip id -> rows (one per run)
        for case, rows in report.case_rows():
            if case in self.records:
                self.rows[case] = {item: list(group) for item, group in
                                   groupby(sorted(rows, key=lambda r: (r.item, r.run)), key=lambda r: r.item)}
        self.items = {item.id: item for item in manifest.items}
        self._mixer = Mixer(manifest)
        self._lock = threading.Lock()  # the mixer's source cache is not thread-safe

    def rate(self, model: str) -> int:
        identity = self.report.meta.get("models", {}).get(model, {})
        return int(identity.get("sample_rate") or MIX_RATE)

    def slice_cases(self, case: str) -> list[str]:
        """The cases of `case`'s model, task and mode, in SNR order."""
        rec = self.records[case]
        same = [c for c, r in self.records.items() if (r.model, r.task, r.mode) == (rec.model, rec.task, rec.mode)]
        return sorted(same, key=lambda c: sort_key(self.records[c].snr))

    def wav(self, case: str, clip: str, kind: str) -> bytes | None:
        """The clip as the model heard it (or its speech or background alone), or None when unknown."""
        if case not in self.rows or clip not in self.rows[case] or clip not in self.items or kind not in KINDS:
            return None
        item: Item = self.items[clip]
        snr = KINDS[kind] if KINDS[kind] is not None else parse_snr(self.records[case].snr)
        if not item.has_sources and not item.available_at(snr_label(snr)):
            return None
        rate = self.rate(self.records[case].model)
        with self._lock:
            wave = self._mixer.waveform(item, snr, rate)
        buffer = io.BytesIO()
        sf.write(buffer, wave, rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()


def _page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}</body></html>").encode("utf-8")


def _warnings(site: Site) -> str:
    notes = site.check.mismatches + site.check.warnings
    return "".join(f'<p class="warn">Warning: {escape(n)}</p>' for n in notes)


def index_page(site: Site) -> bytes:
    meta = site.report.meta
    groups: dict[tuple, list[str]] = {}
    for case, rec in site.records.items():
        groups.setdefault((rec.model, rec.task, rec.mode), []).append(case)
    rows = []
    for (model, task, mode), cases in groups.items():
        cells = "".join(
            f'<a href="/case/{quote(c, safe="")}">{escape(site.records[c].snr)}: {site.records[c].value:.2f}</a> '
            for c in sorted(cases, key=lambda c: sort_key(site.records[c].snr)))
        rows.append(f"<tr><td>{escape(model)}</td><td>{escape(task)}</td><td>{escape(mode)}</td><td>{cells}</td></tr>")
    body = (f"<h1>SSEU-Bench report {escape(str(site.report.path))}</h1>{_warnings(site)}"
            f"<p>Data set <code>{escape(str(site.manifest.path))}</code> ({len(site.manifest.items)} clips), "
            f"report of <code>{escape(str(meta.get('manifest', {}).get('name')))}</code>.</p>"
            f'<table id="cases"><thead><tr><th>model</th><th>task</th><th>mode</th><th>cases (SNR: metric)</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")
    return _page("SSEU-Bench report", body)


def _audio(case: str, clip: str, kind: str) -> str:
    src = f"/audio/{quote(case, safe='')}/{quote(clip, safe='')}/{kind}.wav"
    return f'<audio controls preload="none" src="{escape(src)}" data-kind="{kind}"></audio>'


def _answer_cell(site: Site, case: str, clip: str) -> str:
    rows = site.rows.get(case, {}).get(clip)
    if not rows:
        return "<td>-</td>"
    rec = site.records[case]
    parts = [_audio(case, clip, "mixture")]
    right = True
    for row in rows:
        answer = row.answer or ""
        shown = answer[:SHOWN_ANSWER] + ("…" if len(answer) > SHOWN_ANSWER else "")
        parsed = getattr(row, TASK[rec.task].prediction_field)
        if rec.task == "ASR":
            right = right and not row.errors
        elif rec.task == "ASC":
            right = right and bool(row.correct)
        run = f"run {row.run}: " if len(rows) > 1 else ""
        failure = f"<br><small>{escape(row.failure)}</small>" if row.failure else ""
        parts.append(f"<pre>{escape(run + shown)}</pre><small>parsed: {escape(json.dumps(parsed))}</small>{failure}")
    css = "" if rec.task == "AT" else (' class="good"' if right else ' class="bad"')
    return f"<td{css}>{''.join(parts)}</td>"


def case_page(site: Site, case: str) -> bytes:
    rec = site.records[case]
    cases = site.slice_cases(case)
    clips = list(site.rows[case])
    head = "".join(f"<th>{escape(site.records[c].snr)}{' (this case)' if c == case else ''}</th>" for c in cases)
    rows = []
    for clip in clips:
        first = site.rows[case][clip][0]
        truth = getattr(first, TASK[rec.task].truth_field)
        rows.append(f'<tr data-clip="{escape(clip)}"><td>{escape(clip)}</td><td>{escape(json.dumps(truth))}</td>'
                    f"<td>{_audio(case, clip, 'speech')}</td><td>{_audio(case, clip, 'background')}</td>"
                    + "".join(_answer_cell(site, c, clip) for c in cases) + "</tr>")
    body = (f'<p><a href="/">all cases</a></p><h1>{escape(case)}</h1>{_warnings(site)}'
            f"<p>{escape(rec.metric)} {rec.value:.2f} at {escape(rec.snr)}; every row is one clip, "
            f"heard at the model's rate ({site.rate(rec.model)} Hz); answers at every SNR side by side.</p>"
            f'<table id="clips"><thead><tr><th>clip</th><th>truth</th><th>speech alone</th><th>background alone</th>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return _page(case, body)


def host_allowed(header: str | None, bound: str) -> bool:
    """Whether a request's ``Host`` can be this page's: an IP literal, localhost, or the name it was bound to.

    DNS rebinding always arrives with the attacker's domain name in ``Host``."""
    if not header:
        return False
    name = header.strip().lower()
    if name.startswith("["):  # [::1]:8765
        name = name[1:name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name in ("localhost", bound.lower())


class Handler(BaseHTTPRequestHandler):
    site: Site  # set on the subclass made by `make_server`
    bound: str = "127.0.0.1"  # the --host the server listens on

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not host_allowed(self.headers.get("Host"), self.bound):
            data = _page("forbidden", "<p>Forbidden: this page answers requests for its own address only.</p>")
            try:
                self._send(data, HTML, HTTPStatus.FORBIDDEN)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        try:
            data, kind, status = self._route([unquote(p) for p in urlsplit(self.path).path.split("/")[1:]])
        except Exception as exc:  # a broken source file: say which, keep serving
            data, kind, status = _page("error", f"<p>{escape(str(exc))}</p>"), HTML, HTTPStatus.INTERNAL_SERVER_ERROR
        try:
            self._send(data, kind, status)
        except (BrokenPipeError, ConnectionResetError):  # a media element that stops reading; nothing to answer
            pass

    def _route(self, parts: list[str]) -> tuple[bytes, str, HTTPStatus]:
        if parts == [""]:
            return index_page(self.site), HTML, HTTPStatus.OK
        if len(parts) == 2 and parts[0] == "case" and parts[1] in self.site.records:
            return case_page(self.site, parts[1]), HTML, HTTPStatus.OK
        if len(parts) == 4 and parts[0] == "audio" and parts[3].endswith(".wav"):
            wav = self.site.wav(parts[1], parts[2], parts[3].removesuffix(".wav"))
            if wav is not None:
                return wav, "audio/wav", HTTPStatus.OK
        return _page("not found", "<p>Not found: no such case, clip or page.</p>"), HTML, HTTPStatus.NOT_FOUND

    def _send(self, data: bytes, kind: str, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        pass


def open_site(report: ReportDir, data: str | Path | None, accept_mismatch: bool = False,
              allow_roots: bool = False) -> Site:
    """The report with its data set: `data`, or the manifest path the report recorded; mismatches refused unless
    accepted, roots outside the set's folder unless allowed."""
    where = data or report.meta.get("manifest", {}).get("path")
    if not where:
        raise ConfigError(f"{report.path}: the report names no data set; pass --data SET")
    manifest = load_manifest(where, allow_roots=allow_roots)
    check = check_data(report.meta, manifest)
    if check.mismatches and not accept_mismatch:
        raise ConfigError("; ".join(check.mismatches) + ". Pass the set the report ran (--data), "
                          "or --accept-mismatch to listen anyway")
    return Site(report, manifest, check)


def make_server(site: Site, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    handler = type("SiteHandler", (Handler,), {"site": site, "bound": host})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
