"""The command line: command discovery, `show`, and one-line errors."""

from __future__ import annotations

import statistics
from dataclasses import replace

from sseu_harness.cli import main
from sseu_harness.report.writer import ReportWriter, write_summary_files
from sseu_harness.results.records import case_record, with_averages
from sseu_harness.spec.cases import Case


def test_show_prints_the_tables_of_a_report(tmp_path, capsys):
    records = [case_record(Case("m", "ASC", snr, "independent"), [42.0], [0], 5, 0, 1.0)
               for snr in ("snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf")]
    meta = {"manifest": {"name": "t", "items": 5, "sha256": "0" * 64}, "prompts": {"version": "p"},
            "embedder": "e", "normalizer": "n", "seeds": [0], "harness_version": "x"}
    with ReportWriter(tmp_path) as out:
        write_summary_files(out, with_averages(records, {"ASC": [r.snr for r in records]}), meta)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Table 1 · ASC (mACC %, higher is better) · independent" in out
    assert "42.00" in out and "avg_mixed" in out


def test_show_without_a_summary_is_a_one_line_error(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sseu show: error: no summary at") and "Traceback" not in err


def test_terminal_tables_fit_120_columns_and_files_keep_every_figure(tmp_path, capsys):
    runs = [100.0, 37.5, 12.25]
    snrs = ("snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf")
    models = ("a-model-with-a-rather-long-name-from-a-factory", "chance")
    records = [case_record(Case(m, "ASC", snr, "independent"), runs, [0, 1, 2], 5, 0, 1.0)
               for m in models for snr in snrs]
    records = with_averages(records, {"ASC": list(snrs)})
    records = [replace(r, ci_low=1.25, ci_high=99.75) for r in records]
    meta = {"manifest": {"name": "t", "items": 5, "sha256": "0" * 64}, "prompts": {"version": "p"},
            "embedder": "e", "normalizer": "n", "seeds": [0, 1, 2], "harness_version": "x"}
    with ReportWriter(tmp_path) as out:
        write_summary_files(out, records, meta)
    figure = f"{statistics.mean(runs):.2f} ± {statistics.stdev(runs):.2f}"
    for args, ci in ((["show", str(tmp_path)], False), (["show", str(tmp_path), "--ci"], True)):
        assert main(args) == 0
        text = capsys.readouterr().out
        assert max(len(line) for line in text.splitlines()) <= 120
        assert text.count(figure) == 2 * 7 + 2  # 7 columns per model in Table 1, one cell each in Table 2
        assert ("[1.2, 99.8]" in text) == ci and "avg" in text and "chance" in text
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.count(f"{figure} [1.2, 99.8]") == 2 * 7 + 2  # the file keeps every figure in each cell
