"""Never lose work: reruns, crashes, hanging and failing models, secrets, unwritable reports.

Each test runs real pytest sessions in subprocesses with fault-injecting
adapters from `tests/helpers/adapters.py`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jiwer
import pytest

from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.scoring.normalizer import get_normalizer
from tests.helpers.adapters import Flaky
from tests.helpers.session_runner import REPO, by_key, run_pytest, summary

ITEMS = load_manifest().items
NARROW = ("--sseu-snrs=0", "--sseu-modes=independent,joint")  # 6 cases, 4 answer sets of 26 clips


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def values(report: Path) -> dict:
    return {k: r["value"] for k, r in by_key(summary(report)["records"]).items()}


def test_a_rerun_reuses_every_answer_and_rescore_loads_no_model(tmp_path):
    log, cache = tmp_path / "calls.jsonl", f"--sseu-cache-dir={tmp_path / 'cache'}"
    env = {"SSEU_TEST_CALL_LOG": str(log)}
    first = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", *NARROW, cache, f"--sseu-report-dir={tmp_path / 'a'}", env=env)
    assert first.returncode == 0, first.stdout[-2000:]
    assert len(calls(log)) == 4 * len(ITEMS)
    second = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", *NARROW, cache, f"--sseu-report-dir={tmp_path / 'b'}", env=env)
    assert second.returncode == 0 and len(calls(log)) == 4 * len(ITEMS)  # nothing new asked
    assert values(tmp_path / "b") == values(tmp_path / "a")
    assert all(r["from_store"] == len(ITEMS) for r in summary(tmp_path / "b")["records"] if "case" in r)

    rescore = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", *NARROW, cache, "--sseu-rescore",
                         f"--sseu-report-dir={tmp_path / 'c'}", env={**env, "SSEU_TEST_REFUSE_LOAD": "1"})
    assert rescore.returncode == 0, rescore.stdout[-2000:]
    assert values(tmp_path / "c") == values(tmp_path / "a")

    bypass = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", *NARROW, cache, "--sseu-no-store",
                        f"--sseu-report-dir={tmp_path / 'd'}", env=env)
    assert bypass.returncode == 0 and len(calls(log)) == 8 * len(ITEMS)


def test_rescore_without_stored_answers_fails_clearly(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", "--sseu-snrs=0", "--sseu-modes=independent",
                      "--sseu-tasks=ASR", "--sseu-rescore", f"--sseu-report-dir={tmp_path}",
                      env={"SSEU_TEST_CALL_LOG": str(tmp_path / "log"), "SSEU_TEST_REFUSE_LOAD": "1"})
    assert proc.returncode == 1
    assert "26 of 26 answers of calllog-ASR-snr_0-independent are not in the prediction store" in proc.stdout
    assert "must not be loaded" not in proc.stdout


def test_failing_clips_are_scored_as_wrong_and_gate_the_case(tmp_path):
    unlucky = [i for i in ITEMS if Flaky.unlucky(i.id)]
    assert 0 < len(unlucky) < len(ITEMS) // 2
    args = ("--sseu-model=tests.helpers.adapters:Flaky", "--sseu-snrs=0", "--sseu-modes=independent", "--sseu-tasks=ASR,ASC")
    gated = run_pytest(*args, f"--sseu-report-dir={tmp_path / 'gated'}")
    assert gated.returncode == 1
    assert f"{len(unlucky)} of {len(ITEMS)} model calls failed" in gated.stdout
    assert "--sseu-max-error-rate); first errors: RuntimeError: GPU on fire while answering" in gated.stdout

    allowed = run_pytest(*args, "--sseu-max-error-rate=0.5", f"--sseu-report-dir={tmp_path / 'ok'}")
    assert allowed.returncode == 0, allowed.stdout[-2000:]
    records = by_key(summary(tmp_path / "ok")["records"])
    asr = records[("flaky", "ASR", "snr_0", "independent")]
    assert asr["errors"] == len(unlucky) and asr["n"] == len(ITEMS)
    normalize = get_normalizer().apply
    hyps = ["" if Flaky.unlucky(i.id) else normalize(i.speech.transcript) for i in ITEMS]
    expected = 100 * jiwer.wer([normalize(i.speech.transcript) for i in ITEMS], hyps)
    assert asr["value"] == pytest.approx(expected)
    scenes = records[("flaky", "ASC", "snr_0", "independent")]
    per_scene = {}
    for item in ITEMS:
        per_scene.setdefault(item.background.scene, []).append(not Flaky.unlucky(item.id))
    assert scenes["value"] == pytest.approx(100 * sum(sum(v) / len(v) for v in per_scene.values()) / len(per_scene))
    rows = [json.loads(line) for line in (tmp_path / "ok" / "predictions.jsonl").read_text().splitlines()]
    failed = [r for r in rows if r["failure"]]
    assert len(failed) == 2 * len(unlucky) and all(r["failure"].startswith("error: RuntimeError") for r in failed)


def test_a_hanging_model_call_times_out(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Hang", "--sseu-snrs=0", "--sseu-modes=independent",
                      "--sseu-tasks=ASR", "--sseu-timeout=1", "--sseu-max-error-rate=0.1",
                      f"--sseu-report-dir={tmp_path}", env={"SSEU_TEST_HANG_ITEM": ITEMS[3].id}, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    (rec,) = [r for r in summary(tmp_path)["records"] if "case" in r]
    assert rec["errors"] == 1 and rec["first_errors"] == ["TimeoutError: no answer within 1 s (--sseu-timeout)"]


def test_a_worker_killed_mid_case_costs_only_its_unsaved_batch(tmp_path):
    log, marker = tmp_path / "calls", tmp_path / "killed"
    env = {"SSEU_TEST_CALL_LOG": str(log), "SSEU_TEST_KILL_MARKER": str(marker), "SSEU_TEST_KILL_AFTER": "10"}
    cache = f"--sseu-cache-dir={tmp_path / 'cache'}"
    args = ("--sseu-model=tests.helpers.adapters:Killer", "-n", "2", *NARROW, cache)
    crashed = run_pytest(*args, f"--sseu-report-dir={tmp_path / 'a'}", env=env)
    assert marker.exists() and crashed.returncode != 0
    assert "crashed" in crashed.stdout
    before = len(calls(log))
    healed = run_pytest(*args, f"--sseu-report-dir={tmp_path / 'b'}", env=env)
    assert healed.returncode == 0, healed.stdout[-2000:]
    asked_again = len(calls(log)) - before
    assert asked_again < 4 * len(ITEMS)  # what was stored before the kill is not asked again
    assert len(set(calls(log))) == len(ITEMS)
    assert all(r["value"] == {"WER": 0.0, "mACC": 100.0, "mAP": 100.0}[r["metric"]]
               for r in summary(tmp_path / "b")["records"])


@pytest.mark.parametrize("sig, code", [(signal.SIGKILL, -9), (signal.SIGINT, 2)])
def test_an_interrupted_controller_loses_nothing_stored(tmp_path, sig, code):
    log, cache = tmp_path / "calls", tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SSEU_TEST_CALL_LOG": str(log), "SSEU_TEST_DELAY": "0.2"}
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--sseu-model=tests.helpers.adapters:CallLog", *NARROW,
           f"--sseu-cache-dir={cache}", f"--sseu-report-dir={tmp_path / 'a'}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(calls(log)) < 24 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    with sqlite3.connect(cache / "predictions.sqlite") as conn:
        stored = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    assert stored >= 16
    before = len(calls(log))
    rerun = run_pytest(*cmd[5:], env={"SSEU_TEST_CALL_LOG": str(log)})
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert len(calls(log)) - before == 4 * len(ITEMS) - stored


def test_api_keys_never_reach_artifacts(tmp_path):
    secret = "sk-test-0123456789abcdefSECRET"
    junit = tmp_path / "junit.xml"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Leaky", "--sseu-snrs=0", "--sseu-modes=independent",
                      f"--sseu-cache-dir={tmp_path / 'cache'}", f"--sseu-report-dir={tmp_path / 'report'}",
                      f"--junitxml={junit}", "--sseu-max-error-rate=1", env={"SSEU_TEST_API_KEY": secret})
    assert proc.returncode == 0, proc.stdout[-2000:]
    rows = (tmp_path / "report" / "predictions.jsonl").read_text()
    assert "PermissionError: 401 for key <redacted>" in rows
    scanned = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(scanned) >= 5
    for path in scanned:
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in proc.stdout + proc.stderr


def test_an_unwritable_report_dir_is_refused_at_start_up(tmp_path):
    blocker = tmp_path / "report"
    blocker.write_text("a file where the report dir should be")
    for target in (blocker, blocker / "nested"):
        proc = run_pytest("--sseu-model=oracle", "--sseu-snrs=0", "--sseu-modes=independent", "--sseu-tasks=ASC",
                          f"--sseu-report-dir={target}", f"--sseu-cache-dir={tmp_path / 'cache'}")
        assert proc.returncode == 4, proc.stdout[-2000:]
        assert f"report dir {target}: {blocker} is a file, not a folder" in proc.stderr
    assert blocker.read_text() == "a file where the report dir should be"
    assert not (tmp_path / "cache" / "predictions.sqlite").exists()  # refused before any model answered


def test_a_report_dir_unwritable_at_the_end_is_an_error_and_the_store_keeps_the_answers(tmp_path):
    blocker = tmp_path / "report"
    proc = run_pytest("--sseu-model=oracle", "--sseu-snrs=0", "--sseu-modes=independent", "--sseu-tasks=ASC",
                      "-p", "tests.helpers.block_report_dir",
                      f"--sseu-report-dir={blocker}", f"--sseu-cache-dir={tmp_path / 'cache'}")
    assert proc.returncode == 3
    assert f"cannot write the report to {blocker}" in proc.stdout
    assert blocker.read_text() == "a file where the report dir should be"
    with sqlite3.connect(tmp_path / "cache" / "predictions.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == len(ITEMS)


def test_a_corrupt_store_stops_the_session_before_any_case(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "predictions.sqlite").write_bytes(b"\x00garbage" * 1000)
    proc = run_pytest("--sseu-model=oracle", f"--sseu-cache-dir={tmp_path / 'cache'}", "--collect-only")
    assert proc.returncode == 4
    assert "is corrupt" in proc.stderr and "--sseu-store" in proc.stderr


def test_megabyte_answers_with_control_characters_are_parsed_and_truncated_in_reports(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Babbler", "--sseu-snrs=0", "--sseu-modes=joint",
                      "--sseu-tasks=ASR", f"--sseu-report-dir={tmp_path}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    (rec,) = [r for r in summary(tmp_path)["records"] if "case" in r]
    assert rec["value"] == 0.0 and rec["parse_failures"] == 0
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert all(len(r["answer"]) <= 4_000 for r in rows)
