"""Report writing: all files or none."""

from __future__ import annotations

import pytest

from sseu_harness.report import writer as report
from sseu_harness.results.records import case_record
from sseu_harness.spec.cases import Case

META = {"manifest": {"name": "t", "items": 1, "sha256": "0" * 64}, "prompts": {"version": "p"},
        "embedder": "e", "normalizer": "n", "seeds": [0], "harness_version": "x"}


def write(folder, records, line):
    with report.ReportWriter(folder) as out:
        out.stream("predictions.jsonl").write(line + "\n")
        report.write_summary_files(out, records, META)


def test_a_failure_while_writing_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    records = [case_record(Case("m", "ASR", "snr_0", "independent"), [10.0], [0], 1, 0, 1.0)]
    write(tmp_path, records, '{"a": 1}')
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(summary, plots=()):
        raise OSError("No space left on device")

    monkeypatch.setattr(report, "summary_markdown", broken)
    with pytest.raises(OSError, match="No space left"):
        write(tmp_path, records * 2, '{"b": 2}')
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert sorted(before) == ["plot_ASR_vs_snr.png", "predictions.jsonl", "summary.csv", "summary.html", "summary.json",
                              "summary.md"]
    assert oct((tmp_path / "summary.json").stat().st_mode & 0o777) == "0o644"
