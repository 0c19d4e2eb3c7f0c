"""The command line: command discovery, `show`, and one-line errors."""

from __future__ import annotations

from sseu_harness.cases import Case
from sseu_harness.cli import main
from sseu_harness.records import case_record, with_averages
from sseu_harness.report import ReportWriter, write_summary_files


def test_show_prints_the_tables_of_a_report(tmp_path, capsys):
    records = [case_record(Case("m", "ASC", snr, "independent"), [42.0], [0], 5, 0, 1.0)
               for snr in ("snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf")]
    meta = {"manifest": {"name": "t", "items": 5, "sha256": "0" * 64}, "prompts": {"version": "p"},
            "embedder": "e", "normalizer": "n", "seeds": [0], "harness_version": "x"}
    with ReportWriter(tmp_path) as out:
        write_summary_files(out, with_averages(records, {"ASC": [r["snr"] for r in records]}), meta)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Table 1 · ASC (mACC %, higher is better) · independent" in out
    assert "42.00" in out and "avg_mixed" in out


def test_show_without_a_summary_is_a_one_line_error(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sseu show: error: no summary at") and "Traceback" not in err
