"""Run history: numbered run folders, the latest complete run at the top, baselines and pruning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.report.history import POINTER, PREVIOUS, History, resolve_baseline
from sseu_harness.report.summarize import summarize
from sseu_harness.report.writer import SUMMARY_SCHEMA
from tests.helpers.reports import run_session

ORACLE = ("--sseu-model=oracle", "--sseu-tasks=ASR", "--sseu-snrs=snr_0", "--sseu-modes=independent",
          "--sseu-bootstrap=20")


def session(out: Path, *args: str, model: tuple[str, ...] = ORACLE):
    return run_session(*model, f"--sseu-report-dir={out / 'report'}", f"--sseu-cache-dir={out / 'cache'}", *args)


def top(out: Path) -> dict:
    return json.loads((out / "report" / "summary.json").read_text())


def test_runs_keep_their_folders_and_a_failed_session_never_replaces_the_latest(tmp_path):
    for _ in range(2):
        assert session(tmp_path).returncode == 0
    report = tmp_path / "report"
    assert [p.name for p in History(report).runs()] == ["0001", "0002"]
    assert (report / POINTER).read_text().strip() == "0002"
    for name in ("summary.json", "summary.md", "summary.csv", "summary.html", "predictions.jsonl", "plot_ASR_vs_snr.png"):
        assert (report / name).read_bytes() == (report / "runs" / "0002" / name).read_bytes(), name
    before = {p.name: p.read_bytes() for p in report.iterdir() if p.is_file()}
    assert top(tmp_path)["meta"]["run"] == {"id": "0002", "complete": True}

    failed = session(tmp_path, model=("--sseu-model=tests.helpers.adapters:Missing", *ORACLE[1:]))
    assert failed.returncode == 1
    assert "keeps its latest complete run" in failed.stdout
    assert {p.name: p.read_bytes() for p in report.iterdir() if p.is_file()} == before  # the top is untouched
    third = json.loads((report / "runs" / "0003" / "summary.json").read_text())
    assert third["meta"]["run"] == {"id": "0003", "complete": False, "failed_cases": 1} and third["records"] == []

    # previous = the latest complete run (0002), not the failed 0003; a run folder works as a baseline too
    proc = session(tmp_path, "--sseu-baseline=previous")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert top(tmp_path)["meta"]["gates"]["baseline"] == str(report / "runs" / "0002")
    proc = session(tmp_path, f"--sseu-baseline={report / 'runs' / '0001'}", "--sseu-keep-runs=2")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert top(tmp_path)["meta"]["gates"]["baseline"] == str(report / "runs" / "0001")
    assert [p.name for p in History(report).runs()] == ["0004", "0005"]

    # keeping one run while the newest is incomplete keeps the latest complete one as well
    assert session(tmp_path, "--sseu-keep-runs=1", model=("--sseu-model=tests.helpers.adapters:Missing", *ORACLE[1:])).returncode == 1
    assert [p.name for p in History(report).runs()] == ["0005", "0006"]
    assert (report / POINTER).read_text().strip() == "0005"


def test_previous_without_an_earlier_run_and_a_bad_keep_are_usage_errors(tmp_path):
    proc = session(tmp_path, "--sseu-baseline=previous")
    assert proc.returncode == 4 and "holds no earlier complete run" in proc.stderr
    proc = session(tmp_path, "--sseu-keep-runs=0")
    assert proc.returncode == 4 and "--sseu-keep-runs 0" in proc.stderr


def test_promote_replaces_the_top_and_drops_a_stale_plot(tmp_path):
    history = History(tmp_path)
    first, second = history.new_run(), history.new_run()
    (first / "summary.json").write_text("1")
    (first / "plot_AT_vs_snr.png").write_bytes(b"at")
    (second / "summary.json").write_text("2")
    (tmp_path / "junit.xml").write_text("<x/>")  # not a report file: left alone
    history.promote(first)
    assert (tmp_path / "plot_AT_vs_snr.png").exists() and history.latest() == first
    history.promote(second)
    assert (tmp_path / "summary.json").read_text() == "2" and not (tmp_path / "plot_AT_vs_snr.png").exists()
    assert (tmp_path / "junit.xml").exists() and history.latest() == second
    assert sorted(p.name for p in tmp_path.iterdir()) == [POINTER, "junit.xml", "runs", "summary.json"]


def test_a_pointer_that_cannot_be_replaced_leaves_the_top_with_the_run_it_names(tmp_path):
    history = History(tmp_path)
    first, second = history.new_run(), history.new_run()
    (first / "summary.json").write_text("1")
    (first / "plot_AT_vs_snr.png").write_bytes(b"at")
    (second / "summary.json").write_text("2")
    (second / "summary.md").write_text("2")
    history.promote(first)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    (tmp_path / POINTER).unlink()
    (tmp_path / POINTER).mkdir()  # a folder where the pointer goes: no file can be renamed over it
    (tmp_path / POINTER / "x").write_text("")
    with pytest.raises(OSError):
        history.promote(second)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == {
        name: data for name, data in before.items() if name != POINTER}
    assert sorted(p.name for p in tmp_path.iterdir()) == [POINTER, "plot_AT_vs_snr.png", "runs", "summary.json"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


EMPTY_META = {"manifest": {"name": "t", "items": 0, "sha256": "0" * 64}, "prompts": {"version": "p"},
              "embedder": "e", "normalizer": "n", "seeds": [0], "harness_version": "x", "task_snrs": {}}


def test_a_run_that_cannot_become_the_latest_says_so_and_leaves_the_top(tmp_path):
    first = summarize(tmp_path, [], [], [], EMPTY_META, resamples=5)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    (tmp_path / POINTER).unlink()
    (tmp_path / POINTER).mkdir()
    (tmp_path / POINTER / "x").write_text("")
    second = summarize(tmp_path, [], [], [], EMPTY_META, resamples=5)
    assert first.promoted and not second.promoted
    assert second.promote_error.startswith(f"run {second.run.name} is written to {second.run} but could not become "
                                           "the latest")
    assert (second.run / "summary.json").is_file()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == {
        name: data for name, data in before.items() if name != POINTER}


def test_a_failed_prune_is_a_warning_about_old_runs_not_a_lost_report(tmp_path, monkeypatch):
    def refuse(self, keep):
        raise PermissionError(13, "Permission denied", str(self.runs_dir / "0001"))

    monkeypatch.setattr(History, "prune", refuse)
    result = summarize(tmp_path, [], [], [], EMPTY_META, keep_runs=1, resamples=5)
    assert result.promoted and result.promote_error is None
    assert result.prune_error.startswith(
        f"the report is whole, but old runs of {tmp_path / 'runs'} could not be removed")
    assert (tmp_path / POINTER).read_text().strip() == result.run.name
    assert (tmp_path / "summary.json").read_bytes() == (result.run / "summary.json").read_bytes()


def fake_run(history: History, complete: bool, gates: list[bool], failed_cases: int = 0) -> Path:
    run = history.new_run()
    about_run = {"id": run.name, "complete": complete, **({"failed_cases": failed_cases} if failed_cases else {})}
    (run / "summary.json").write_text(json.dumps({
        "schema": SUMMARY_SCHEMA, "records": [], "meta": {"run": about_run},
        "gates": [{"name": f"g{k}", "passed": passed, "message": ""} for k, passed in enumerate(gates)]}))
    return run


def test_previous_is_the_newest_run_whose_gates_passed(tmp_path):
    history = History(tmp_path)
    good = fake_run(history, True, [True, True])
    history.promote(good)
    regressed = fake_run(history, True, [True, False])  # complete, so it became the latest; its gate failed
    history.promote(regressed)
    fake_run(history, False, [])  # incomplete
    breached = fake_run(history, True, [True], failed_cases=1)  # its gates passed, a case breached its bound
    history.promote(breached)
    (history.new_run() / "summary.json").write_text("{")  # killed while writing
    assert history.latest() == breached
    assert resolve_baseline(PREVIOUS, tmp_path) == good
    (good / "summary.json").write_text(json.dumps({**json.loads((good / "summary.json").read_text()),
                                                  "gates": [{"name": "regression", "passed": False, "message": ""}]}))
    with pytest.raises(ConfigError, match="holds no earlier complete run whose gates all passed"):
        resolve_baseline(PREVIOUS, tmp_path)
