"""A damaged summary.json read back by `sseu show`, `sseu merge` or a baseline: one clear error naming the file."""

from __future__ import annotations

import json

import pytest

from sseu_harness.cli import main
from sseu_harness.report.writer import ReportWriter, write_summary_files
from sseu_harness.results.records import case_record, with_averages
from sseu_harness.spec.cases import Case
from tests.helpers.session_runner import run_pytest

META = {"manifest": {"name": "t", "items": 5, "sha256": "0" * 64}, "prompts": {"version": "p"},
        "embedder": "e", "normalizer": "n", "seeds": [0], "harness_version": "x"}


def good_report(folder):
    records = [case_record(Case("m", "ASC", "snr_0", "independent"), [42.0], [0], 5, 0, 1.0)]
    with ReportWriter(folder) as out:
        write_summary_files(out, with_averages(records, {"ASC": ["snr_0"]}), META)


def not_utf8(folder):
    good_report(folder)
    (folder / "summary.json").write_bytes(b'{"schema": "sseu-summary/1", "note": "\xff\xfe"}')


def a_folder(folder):
    folder.mkdir()
    (folder / "summary.json").mkdir()


def record_without(field):
    def damage(folder):
        good_report(folder)
        data = json.loads((folder / "summary.json").read_text())
        del data["records"][0][field]
        (folder / "summary.json").write_text(json.dumps(data))
    return damage


def record_value_text(folder):
    good_report(folder)
    data = json.loads((folder / "summary.json").read_text())
    data["records"][0]["value"] = "42"
    (folder / "summary.json").write_text(json.dumps(data))


DAMAGES = [
    (not_utf8, "is not UTF-8 text (byte 38)"),
    (a_folder, "is a folder, not a file"),
    (record_without("value"), "record 1 lacks value"),
    (record_without("task"), "record 1 lacks task"),
    (record_value_text, "record 1 has value of the wrong type"),
]


@pytest.mark.parametrize("damage, message", DAMAGES)
@pytest.mark.parametrize("command", ["show", "merge"])
def test_a_damaged_summary_is_a_one_line_error_naming_the_file(tmp_path, capsys, damage, message, command):
    folder = tmp_path / "report"
    damage(folder)
    args = [command, str(folder)] + (["--out", str(tmp_path / "m")] if command == "merge" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sseu {command}: error: {folder / 'summary.json'}") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_a_damaged_baseline_summary_is_a_usage_error_in_pytest(tmp_path):
    for number, (damage, message) in enumerate(DAMAGES):
        folder = tmp_path / f"base{number}"
        damage(folder)
        proc = run_pytest("--sseu-model=oracle", "--sseu-tasks=ASC", "--sseu-snrs=0", "--sseu-modes=independent",
                          f"--sseu-baseline={folder}", "--collect-only")
        assert proc.returncode == 4, (message, proc.stderr[-1500:])
        assert f"{folder / 'summary.json'}" in proc.stderr and message in proc.stderr
        assert "Traceback" not in proc.stderr


def test_merge_refuses_a_summary_whose_meta_lacks_what_a_joined_report_is_written_from(tmp_path, capsys):
    folder = tmp_path / "report"
    good_report(folder)  # META has no task_snrs
    assert main(["show", str(folder)]) == 0
    capsys.readouterr()
    assert main(["merge", str(folder), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err == (f"sseu merge: error: {folder / 'summary.json'}: its meta lacks task_snrs, so it cannot be joined; "
                   "rerun the benchmark to rewrite it\n")
    assert not (tmp_path / "m").exists()
