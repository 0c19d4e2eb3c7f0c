"""Reports read back take no figure on trust: `sseu merge` and a baseline are checked against their rows,
and a damaged report is a usage error naming the file, before any model loads."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sseu_harness.cli import main as cli
from sseu_harness.results.gates import regression_result
from tests.helpers.session_runner import by_key, run_pytest, summary

ARGS = ("--sseu-model=chance", "--sseu-tasks=ASR,ASC", "--sseu-modes=independent", "--sseu-snrs=0",
        "--sseu-bootstrap=20")
ASR = ("chance", "ASR", "snr_0", "independent")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real report of two cases (chance ASR and ASC at 0 dB); copy it before changing it."""
    out = tmp_path_factory.mktemp("base") / "report"
    proc = run_pytest(*ARGS, f"--sseu-report-dir={out}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    return out


def copy(report: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(report, target, ignore=shutil.ignore_patterns("runs", "LATEST"))
    return target


def edit_summary(folder: Path, change) -> None:
    data = summary(folder)
    change(data)
    (folder / "summary.json").write_text(json.dumps(data))


def case_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]


def merge(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli(["merge", *args])
    return code, capsys.readouterr().err


# sseu merge: every case's value and counts come from its rows


def test_merge_takes_each_cases_counts_from_its_rows(report, tmp_path, capsys):
    shard = copy(report, tmp_path)
    for row in case_lines(shard):
        assert row["case"].startswith("chance-")
    code, err = merge(capsys, str(shard), "--out", str(tmp_path / "m"))
    assert code == 0, err
    merged = by_key(summary(tmp_path / "m")["records"])
    for case in {row["case"] for row in case_lines(shard)}:
        rows = [row for row in case_lines(shard) if row["case"] == case]
        record = next(r for r in merged.values() if r.get("case") == case)
        assert record["n"] == len({row["item"] for row in rows})
        assert record["errors"] == sum((row["failure"] or "").startswith("error: ") for row in rows)
        assert record["parse_failures"] == sum(row["failure"] is not None and not row["failure"].startswith("error: ")
                                               for row in rows)
        assert record["refusals"] == sum(row["refused"] for row in rows)
    asr_rows = [row for row in case_lines(shard) if row["case"] == "chance-ASR-snr_0-independent"]
    wer = 100 * sum(row["errors"] for row in asr_rows) / sum(row["ref_words"] for row in asr_rows)
    assert merged[ASR]["value"] == pytest.approx(wer, abs=1e-9)


@pytest.mark.parametrize("field, value, message", [
    ("value", 3.0, "WER = 3.0000, its rows give"),
    ("run_values", [3.0], "run values [3.0000], its rows give"),
    ("parse_failures", 99, "parse_failures = 99, its rows count"),
    ("errors", 5, "errors = 5, its rows count"),
    ("n", 1, "n = 1, its rows hold"),
])
def test_merge_refuses_a_stored_figure_its_rows_do_not_give(report, tmp_path, capsys, field, value, message):
    shard = copy(report, tmp_path)

    def change(data):
        for record in data["records"]:
            if record.get("case") == "chance-ASR-snr_0-independent":
                record[field] = value

    edit_summary(shard, change)
    code, err = merge(capsys, str(shard), "--out", str(tmp_path / "m"))
    assert code == 2 and "Traceback" not in err
    assert "case chance-ASR-snr_0-independent: " in err and message in err
    assert f"summary.json and predictions.jsonl of {shard} disagree" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("rows, message", [
    ("", "has no rows of 2 case(s) of its summary.json"),
    ("asc-only", "has no rows of 1 case(s) of its summary.json (chance-ASR-snr_0-independent)"),
])
def test_merge_refuses_a_case_without_rows(report, tmp_path, capsys, rows, message):
    shard = copy(report, tmp_path)
    lines = (shard / "predictions.jsonl").read_text().splitlines(keepends=True)
    kept = "" if rows == "" else "".join(line for line in lines if '"ASC"' in line)
    (shard / "predictions.jsonl").write_text(kept)
    code, err = merge(capsys, str(shard), "--out", str(tmp_path / "m"))
    assert code == 2 and message in err and str(shard / "predictions.jsonl") in err
    assert not (tmp_path / "m").exists()


# a baseline is checked before any model loads


def baseline_session(baseline: Path, tmp_path: Path, *extra: str):
    return run_pytest(*ARGS, f"--sseu-baseline={baseline}", f"--sseu-report-dir={tmp_path / 'r'}",
                      "--collect-only", *extra)


def test_a_baseline_whose_rows_are_missing_broken_or_of_other_clips_is_a_usage_error(report, tmp_path):
    missing = copy(report, tmp_path, "missing")
    (missing / "predictions.jsonl").unlink()
    broken = copy(report, tmp_path, "broken")
    lines = (broken / "predictions.jsonl").read_text().splitlines(keepends=True)
    (broken / "predictions.jsonl").write_text("".join(lines[:3]) + '{"case": "chance-AS\n' + "".join(lines[4:]))
    other = copy(report, tmp_path, "other")
    rows = case_lines(other)
    for row in rows:
        if row["case"] == "chance-ASC-snr_0-independent":
            row["item"] = "x-" + row["item"]
    (other / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    for baseline, message in ((missing, f"{missing / 'predictions.jsonl'} is missing"),
                              (broken, f"{broken / 'predictions.jsonl'}:4: not valid JSON"),
                              (other, "case chance-ASC-snr_0-independent scored other clips than this data set has")):
        proc = baseline_session(baseline, tmp_path)
        assert proc.returncode == 4, (baseline.name, proc.stdout[-1500:], proc.stderr[-1500:])
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "r").exists()
    assert baseline_session(report, tmp_path).returncode == 0


def test_a_record_that_disagrees_with_its_rows_at_the_finish_is_a_report_error(report, tmp_path):
    top = copy(report, tmp_path, "r")
    before = {p.name: p.read_bytes() for p in top.iterdir()}
    junit = tmp_path / "j.xml"
    proc = run_pytest(*ARGS, "-p", "tests.helpers.edit_one_record", f"--sseu-report-dir={top}",
                      f"--junitxml={junit}")
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"cannot make the report in {top}: case chance-ASC-snr_0-independent: run values [" in proc.stdout
    assert {p.name: p.read_bytes() for p in top.iterdir() if p.is_file()} == before
    assert list((top / "runs").glob("*")) == []  # no run folder of a report that was refused
    assert len(list(ET.parse(junit).getroot().iter("testcase"))) == 2


# gates that would check nothing


def test_a_regression_gate_that_compares_no_case_fails():
    result = regression_result([], 1.0)
    assert result.name == "regression" and not result.passed
    assert result.message.startswith("0 cases compared")


def test_a_baseline_without_any_case_of_the_session_is_a_usage_error(report, tmp_path):
    proc = run_pytest("--sseu-model=oracle", *ARGS[1:], f"--sseu-baseline={report}", "--collect-only")
    assert proc.returncode == 4
    assert f"baseline {report} holds none of the cases compared here" in proc.stderr


def test_a_bound_on_a_model_the_session_does_not_run_warns_loudly(report, tmp_path, capsys):
    bounds = tmp_path / "t.toml"
    bounds.write_text('[[bound]]\nmodel = "chance"\ntask = "ASC"\nlimit = 1\n'
                      '[[bound]]\nmodel = "chanse"\ntask = "ASR"\nlimit = 50\n')
    warning = (f"{bounds}:5: the bound names model 'chanse', which is not among the models here (chance), "
               "so it checks nothing")
    proc = run_pytest(*ARGS, f"--sseu-thresholds={bounds}", "--collect-only")
    assert proc.returncode == 0
    assert f"SSEU-Bench: WARNING: {warning}" in proc.stdout and "PytestConfigWarning" in proc.stdout
    capsys.readouterr()
    assert cli(["merge", str(report), "--out", str(tmp_path / "m"), "--thresholds", str(bounds)]) == 0
    assert f"sseu merge: warning: {warning}" in capsys.readouterr().err
