"""Report writing: all files or none."""

from __future__ import annotations

import re

import pytest

from sseu_harness.report import tables
from sseu_harness.report import writer as report
from sseu_harness.results.records import case_record, with_averages
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


def _two_models():
    """`full`: ASR and ASC in independent and joint mode; `asr-only`: ASR, independent (as faster-whisper)."""
    mixed = ["snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10"]
    snrs = {"ASR": ["snr_pinf", *mixed], "ASC": [*mixed, "snr_minf"]}
    cases = [Case("full", task, snr, mode) for task in snrs for snr in snrs[task] for mode in ("independent", "joint")]
    cases += [Case("asr-only", "ASR", snr, "independent") for snr in snrs["ASR"]]
    return with_averages([case_record(c, [10.0], [0], 1, 0, 1.0) for c in cases], snrs)


def test_a_system_is_a_row_only_in_the_tables_where_it_has_a_case():
    records = _two_models()
    rows = {t.title: [m for m, _ in t.rows] for t in tables.table1_data(records)}
    assert list(rows.values()) == [["asr-only", "full"], ["full"], ["full"], ["full"]]
    assert [(m, mode) for m, mode, _ in tables.table2_rows(records)] == [
        ("asr-only", "independent"), ("full", "independent"), ("full", "joint")]
    assert tables.coverage_note(records) == "Not in every table: asr-only: ASR, independent only."
    assert tables.coverage_note([r for r in records if r.model == "full"]) is None
    odd = [case_record(Case("odd", task, "snr_0", mode), [1.0], [0], 1, 0, 1.0)
           for task, mode in (("ASR", "independent"), ("ASC", "joint"))]
    assert tables.coverage_note(records + odd) == ("Not in every table: asr-only: ASR, independent only; "
                                                   "odd: ASR independent, ASC joint only.")


def test_the_terminal_summary_md_and_html_show_no_row_of_dashes_and_the_footnote(tmp_path, capsys):
    records = _two_models()
    with report.ReportWriter(tmp_path) as out:
        report.write_summary_files(out, records, META)
    note = "Not in every table: asr-only: ASR, independent only."
    block = tables.terminal_block(records)
    markdown = (tmp_path / "summary.md").read_text()
    html = (tmp_path / "summary.html").read_text()
    for text in (block, markdown, html):
        assert note in text
    rows = [line for line in block.splitlines() if line.startswith("asr-only")]
    assert len(rows) == 2 and "-" not in rows[0].split()  # Table 1 ASR independent (no dash), Table 2
    assert len([line for line in markdown.splitlines() if line.startswith("| asr-only ")]) == 2
    assert html.count("<td>asr-only</td>") == 2
    assert "<td>asr-only</td><td class=\"num\">-</td>" not in html
    assert re.findall(r'<section id="([a-z0-9-]+)">', html) == ["table1", "table2", "plots", "clips", "all-records"]
    assert html.index('<p id="about">Data <code>t</code>') < html.index("<section")
    assert html.index(note) < html.index('<section id="plots">')  # the footnote under Table 2
