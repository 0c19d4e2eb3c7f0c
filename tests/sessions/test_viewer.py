"""`sseu view` over real HTTP on loopback: mixtures at the model's rate, answers side by side, 404s, data checks."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from html import escape

import numpy as np
import pytest
import soundfile as sf

from sseu_harness.dataset.manifest import DEMO_DIR, load_manifest
from sseu_harness.dataset.mixer import MIXER_VERSION
from sseu_harness.errors import ConfigError
from sseu_harness.report.reader import ReportDir, load_report_dir
from sseu_harness.report.viewer import index_page, make_server, open_site
from tests.helpers.adapters import HOSTILE_ANSWER, Hostile
from tests.helpers.reports import REPO


@pytest.fixture(scope="module")
def site_url(hostile_report):
    report = load_report_dir(hostile_report[0])
    report = ReportDir(report.path, {**report.summary, "meta": {**report.meta, "mixer": MIXER_VERSION}})
    server = make_server(open_site(report, None))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", report
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def wav(url: str) -> np.ndarray:
    status, data, kind = get(url)
    assert status == 200 and kind == "audio/wav" and data[:4] == b"RIFF"
    wave, rate = sf.read(io.BytesIO(data), dtype="float64")
    assert rate == Hostile.sample_rate
    return wave


def test_a_clip_sounds_as_the_model_heard_it_at_its_rate(site_url):
    base, report = site_url
    case, clip = "hostile-ASC-snr_m10-independent", "demo-home-01"
    mixture, speech, background = (wav(f"{base}/audio/{case}/{clip}/{kind}.wav") for kind in ("mixture", "speech", "background"))
    assert mixture.size == speech.size == background.size == 8 * Hostile.sample_rate  # demo backgrounds last 8 s
    # the mixture is speech + gain x background, its SNR over the speech-active span is -10 dB (least squares)
    (a, b), *_ = np.linalg.lstsq(np.stack([speech, background], axis=1), mixture, rcond=None)
    item = {i.id: i for i in load_manifest().items}[clip]
    info = sf.info(DEMO_DIR / item.speech.path)  # the speech-active span: where the speech file lies
    start = round(item.speech.onset * Hostile.sample_rate)
    span = slice(start, start + round(info.frames / info.samplerate * Hostile.sample_rate))
    snr = 10 * np.log10(np.mean((a * speech[span]) ** 2) / np.mean((b * background[span]) ** 2))
    assert abs(snr - -10) < 0.5, snr
    assert np.max(np.abs(mixture - a * speech - b * background)) < 0.01


def test_answers_at_every_snr_stand_side_by_side_escaped(site_url):
    base, report = site_url
    status, data, _ = get(f"{base}/case/hostile-ASC-snr_0-independent")
    page = data.decode()
    assert status == 200 and "<th>snr_0 (this case)</th>" in page and "<th>snr_m10</th>" in page
    rows = {(r.case, r.item): json.loads(r.to_json()) for _, rs in report.case_rows() for r in rs}
    for clip in ("demo-home-01", "demo-cafe_restaurant-01", "demo-home-05"):  # wrong, HTML, failed call
        row = page[page.index(f'data-clip="{clip}"'):]
        row = row[:row.index("</tr>")]
        for snr in ("snr_0", "snr_m10"):
            assert f"/audio/hostile-ASC-{snr}-independent/{clip}/mixture.wav" in row
        assert "speech.wav" in row and "background.wav" in row
        assert row.count("<pre>") == 2
        for snr in ("snr_0", "snr_m10"):
            got = rows[(f"hostile-ASC-{snr}-independent", clip)]
            assert escape(got["answer"]) in row and escape(json.dumps(got["predicted_scene"])) in row
    assert HOSTILE_ANSWER not in page


@pytest.mark.parametrize("path", [
    "/case/no-such-case", "/audio/hostile-ASC-snr_0-independent/no-such-clip/mixture.wav",
    "/audio/no-such-case/demo-home-01/mixture.wav", "/audio/hostile-ASC-snr_0-independent/demo-home-01/other.wav",
    "/manifest.jsonl", "/speech/demo-home-01.flac", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/case/..%2f..%2fetc%2fpasswd", "/audio/hostile-ASC-snr_0-independent/..%2fspeech%2fdemo-home-01.flac/mixture.wav",
    "/audio/hostile-ASC-snr_0-independent/demo-home-01/..%2f..%2fmanifest.jsonl",
])
def test_unknown_cases_clips_and_paths_are_404(site_url, path):
    base, _ = site_url
    status, data, _ = get(base + path)
    assert status == 404 and b"root:" not in data and b"sseu-manifest" not in data


def test_a_changed_data_set_or_mixer_is_refused_or_warned(hostile_report, tmp_path):
    report = load_report_dir(hostile_report[0])
    changed = tmp_path / "set"
    shutil.copytree(DEMO_DIR, changed)
    manifest = changed / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + "\n")  # same items, another SHA-256
    with pytest.raises(ConfigError, match="SHA-256"):
        open_site(report, changed)
    site = open_site(report, changed, accept_mismatch=True)
    assert any("SHA-256" in w for w in site.check.mismatches)
    site = open_site(report, None)  # this report records the mixer version it was made with: nothing to say
    assert not site.check.warnings and not site.check.mismatches
    unknown = {k: v for k, v in report.meta.items() if k != "mixer"}  # a report made before the version was recorded
    site = open_site(ReportDir(report.path, {**report.summary, "meta": unknown}), None)
    assert site.check.warnings and not site.check.mismatches
    assert b"mixer version" in index_page(site)  # the warning is on the page too
    old = ReportDir(report.path, {**report.summary, "meta": {**report.meta, "mixer": "sseu-mix-0"}})
    with pytest.raises(ConfigError, match="sseu-mix-0"):
        open_site(old, None)


def test_the_command_binds_to_loopback_and_serves(hostile_report):
    proc = subprocess.Popen([sys.executable, "-m", "sseu_harness", "view", str(hostile_report[0]), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split(" on ")[1].split()[0]
        status, data, _ = get(url)
        assert status == 200 and b"hostile-AT-snr_m10-independent" in data
        assert b"mixer version" not in data  # the report records the mixer it was made with: no warning
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_busy_port_is_a_one_line_error(hostile_report, capsys):
    import socket

    from sseu_harness.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["view", str(hostile_report[0]), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


@pytest.mark.parametrize("host, status", [
    ("evil.example", 403), ("evil.example:8765", 403), ("127.0.0.1.evil.example", 403), (None, 403),
    ("127.0.0.1", 200), ("localhost:8765", 200), ("[::1]:8765", 200), ("LOCALHOST", 200),
])
def test_a_page_under_another_name_is_forbidden_against_dns_rebinding(site_url, host, status):
    import http.client
    from urllib.parse import urlsplit

    base, _ = site_url
    connection = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=30)
    try:
        connection.putrequest("GET", "/", skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == status
    assert (b"hostile-AT-snr_m10-independent" in body) == (status == 200)


def test_roots_outside_the_set_are_refused_by_the_viewer_unless_allowed(hostile_report, tmp_path, capsys):
    import socket

    from sseu_harness.cli import main
    from sseu_harness.errors import ManifestError

    report = load_report_dir(hostile_report[0])
    changed = tmp_path / "set"
    shutil.copytree(DEMO_DIR, changed)
    manifest = changed / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([json.dumps({**json.loads(lines[0]), "roots": {"up": "../.."}}), *lines[1:]]) + "\n")
    with pytest.raises(ManifestError, match=r"root\(s\) up = '../..' .* --allow-roots"):
        open_site(report, changed, accept_mismatch=True)
    assert open_site(report, changed, accept_mismatch=True, allow_roots=True).manifest.outside_roots()
    assert main(["view", str(hostile_report[0]), "--data", str(changed), "--accept-mismatch"]) == 2
    assert "lie outside the set's folder" in capsys.readouterr().err
    with socket.socket() as busy:  # stops the command after it printed what it reads
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["view", str(hostile_report[0]), "--data", str(changed), "--accept-mismatch", "--allow-roots",
                     "--port", str(port)]) == 2
    assert f"sseu view: root up: {tmp_path.parent.resolve()}" in capsys.readouterr().err


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace("The birch canoe", "Th\u00e9 birch canoe").encode("cp1252"), "not UTF-8"),
    (lambda text: (text + '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}\n").encode(), "JSON nested too deeply"),
    (lambda text: text.replace("speech/demo-home-01.flac", "speech/demo\\u0000.flac").encode(), "holds a NUL byte"),
    (lambda text: re.sub(r'"speech": \{"onset": [0-9.]+', '"speech": {"onset": NaN', text, count=1).encode(),
     "speech.onset must be a finite number of seconds, got nan"),
])
def test_a_manifest_the_viewer_cannot_read_is_a_one_line_cli_error(hostile_report, tmp_path, capsys, damage, message):
    from sseu_harness.cli import main

    changed = tmp_path / "set"
    shutil.copytree(DEMO_DIR, changed)
    manifest = changed / "manifest.jsonl"
    manifest.write_bytes(damage(manifest.read_text()))
    assert main(["view", str(hostile_report[0]), "--data", str(changed)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sseu view: error: ") and message in err and "Traceback" not in err
