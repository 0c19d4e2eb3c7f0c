"""Release gates: bounds, the regression gate, shards and merge, CI artifacts."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sseu_harness.cli import main as cli
from sseu_harness.errors import ConfigError
from sseu_harness.results.gates import _holm
from sseu_harness.results.thresholds import load_thresholds
from tests.helpers.session_runner import by_key, run_pytest, summary

ASC_ONLY = ("--sseu-tasks=ASC", "--sseu-modes=independent")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[bound]]\ntask = "ASR"\nlimit = 10\ncolour = "red"\n', ":1: unknown key(s) ['colour']"),
        ('[[bound]]\ntask = "SED"\nlimit = 10\n', ":1: task 'SED' is not one of ASR, ASC, AT"),
        ('\n[[bound]]\ntask = "ASR"\nmetric = "mAP"\nlimit = 10\n', ":2: metric 'mAP' does not belong to ASR"),
        ('[[bound]]\ntask = "AT"\nsnr = "loud"\nlimit = 10\n', "unknown SNR 'loud'"),
        ('[[bound]]\ntask = "AT"\nmode = "zero-shot"\nlimit = 10\n', "mode 'zero-shot' is not one of"),
        ('[[bound]]\ntask = "AT"\nlimit = "high"\n', "limit must be a finite number"),
        ('[[bound]]\ntask = "AT"\nlimit = nan\n', ":1: limit must be a finite number in percent, got nan"),
        ('[[bound]]\ntask = "ASR"\nlimit = inf\n', ":1: limit must be a finite number in percent, got inf"),
        ('[[bound]]\ntask = "ASR"\nlimit = -5\n', ":1: limit -5 is outside the range of WER (0 or more %): "
                                                  "the bound could never pass"),
        ('[[bound]]\ntask = "ASC"\nlimit = 150\n', ":1: limit 150 is outside the range of mACC (0 to 100 %): "
                                                   "the bound could never pass"),
        ('[[bound]]\ntask = "AT"\nlimit = -1\n', "limit -1 is outside the range of mAP (0 to 100 %): "
                                                 "the bound could never fail"),
        ("bound = 5\n", "bound = 5 is not a list of tables"),
        ('[bound]\ntask = "AT"\nlimit = 5\n', "is not a list of tables"),
        ("bound = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply to read"),
        ('# gates\n\n[[ bound ]]\ntask = "AT"\nlimit = 5\n\n  [[ "bound" ]] # quoted\ntask = "SED"\nlimit = 1\n',
         ":7: task 'SED' is not one of"),
        ('[bounds]\ntask = "AT"\n', "unknown table(s) ['bounds']"),
        ("[[bound]\n", "not valid TOML"),
        ("", "no [[bound]] tables"),
    ],
)
def test_malformed_thresholds_name_file_line_and_fix(tmp_path, text, message):
    path = write(tmp_path / "t.toml", text)
    with pytest.raises(ConfigError, match=None) as info:
        load_thresholds(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_a_thresholds_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "t.toml"
    path.write_bytes('# Grenzwerte f\u00fcr ASR\n[[bound]]\ntask = "ASR"\nlimit = 10\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"t.toml: not UTF-8 \(byte 0xfc at offset 14\); save the thresholds file"):
        load_thresholds(path)


@pytest.fixture(scope="module")
def oracle_report(tmp_path_factory) -> Path:
    """A finished one-case report, to join with `sseu merge`."""
    report = tmp_path_factory.mktemp("oracle") / "r"
    proc = run_pytest("--sseu-model=oracle", *ASC_ONLY, "--sseu-snrs=0", f"--sseu-report-dir={report}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    return report


@pytest.mark.parametrize("text", ['[[bound]]\ntask = "ASR"\nlimit = -5\n', '[[bound]]\ntask = "ASC"\nlimit = 150\n',
                                  '[[bound]]\ntask = "ASC"\nlimit = nan\n', 'bound = 5\n'])
def test_impossible_limits_are_refused_by_the_plugin_and_by_merge_alike(tmp_path, capsys, oracle_report, text):
    bounds = write(tmp_path / "t.toml", text)
    plugin = run_pytest("--sseu-model=oracle", *ASC_ONLY, "--sseu-snrs=0", f"--sseu-thresholds={bounds}",
                        "--collect-only")
    assert plugin.returncode == 4 and "Traceback" not in plugin.stderr and str(bounds) in plugin.stderr
    capsys.readouterr()
    assert cli(["merge", str(oracle_report), "--out", str(tmp_path / "m"), "--thresholds", str(bounds)]) == 2
    message = capsys.readouterr().err.removeprefix("sseu merge: error: ").strip()
    assert message and message in plugin.stderr


def test_holm_keeps_the_family_wise_error_rate():
    assert _holm([0.001, 0.04, 0.5], 0.05) == [True, False, False]
    assert _holm([0.01, 0.02, 0.04], 0.05) == [True, True, True]
    assert _holm([0.03, 0.03], 0.05) == [False, False]


def test_a_case_bound_fails_its_case_and_junit_has_values(tmp_path):
    bounds = write(tmp_path / "t.toml", '[[bound]]\nmodel = "chance"\ntask = "ASC"\nsnr = "snr_0"\nlimit = 50\n'
                                        '[[bound]]\nmodel = "oracle"\ntask = "ASC"\nlimit = 99.5\n')
    junit = tmp_path / "j.xml"
    proc = run_pytest("--sseu-model=oracle,chance", *ASC_ONLY, f"--sseu-thresholds={bounds}",
                      f"--sseu-report-dir={tmp_path / 'r'}", f"--junitxml={junit}")
    assert proc.returncode == 1
    assert summary(tmp_path / "r")["meta"]["run"]["failed_cases"] == 1  # so this run is never `previous`
    chance = by_key(summary(tmp_path / "r")["records"])[("chance", "ASC", "snr_0", "independent")]["value"]
    assert f"chance-ASC-snr_0-independent: mACC = {chance:.2f}, bound >= 50 ({bounds}:1)" in proc.stdout
    assert "1 failed, 11 passed" in proc.stdout
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failed = cases["chance-ASC-snr_0-independent"]
    assert failed.find("failure") is not None
    props = {p.get("name"): p.get("value") for p in failed.iter("property")}
    assert props["metric"] == "mACC" and float(props["value"]) == pytest.approx(chance)


def test_a_bound_on_an_average_is_its_own_entry(tmp_path):
    bounds = write(tmp_path / "t.toml", '[[bound]]\ntask = "ASC"\nsnr = "avg"\nlimit = 50\n')
    junit = tmp_path / "j.xml"
    proc = run_pytest("--sseu-model=oracle,chance", *ASC_ONLY, f"--sseu-thresholds={bounds}",
                      f"--sseu-report-dir={tmp_path / 'r'}", f"--junitxml={junit}")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "1 failed, 13 passed" in proc.stdout  # 12 cases + 2 gate entries
    names = {f"{c.get('classname')}::{c.get('name')}": c.find("failure") is not None
             for c in ET.parse(junit).getroot().iter("testcase")}
    assert names["sseu.gate.bound::chance-ASC-avg-independent"] is True
    assert names["sseu.gate.bound::oracle-ASC-avg-independent"] is False
    gates = summary(tmp_path / "r")["gates"]
    assert [g["passed"] for g in gates] == [False, True]


def test_an_average_bound_on_an_incomplete_selection_is_refused(tmp_path):
    bounds = write(tmp_path / "t.toml", '[[bound]]\ntask = "ASC"\nsnr = "avg_mixed"\nlimit = 10\n')
    proc = run_pytest("--sseu-model=oracle", *ASC_ONLY, "-k", "snr_0 or snr_p5", f"--sseu-thresholds={bounds}",
                      f"--sseu-report-dir={tmp_path / 'r'}")
    assert proc.returncode == 1
    assert "refused: the selection leaves avg_mixed of oracle-ASC-independent incomplete" in proc.stdout
    sharded = run_pytest("--sseu-model=oracle", *ASC_ONLY, "--sseu-shard=1/2", f"--sseu-thresholds={bounds}")
    assert sharded.returncode == 4 and "cannot be judged on one shard" in sharded.stderr


@pytest.mark.parametrize("text, message", [
    ('[[bound]]\ntask = "ASR"\nsnr = "snr_minf"\nlimit = 10\n', "ASR has no case at snr_minf"),
    ('[[bound]]\ntask = "AT"\nsnr = "snr_p3"\nlimit = 10\n', "snr_p3 is not an SNR of this data set"),
])
def test_bounds_on_cases_that_cannot_exist_are_usage_errors(tmp_path, text, message):
    proc = run_pytest("--sseu-model=oracle", f"--sseu-thresholds={write(tmp_path / 't.toml', text)}", "--collect-only")
    assert proc.returncode == 4 and message in proc.stderr



@pytest.mark.parametrize("text", [
    '[[bound]]\ntask = "ASR"\nsnr = "snr_minf"\nlimit = 10\n',
    '[[bound]]\ntask = "AT"\nsnr = "snr_p3"\nlimit = 10\n',
])
def test_merge_refuses_bounds_on_cases_that_cannot_exist_as_the_plugin_does(tmp_path, capsys, text):
    bounds = write(tmp_path / "t.toml", text)
    plugin = run_pytest("--sseu-model=oracle", f"--sseu-thresholds={bounds}", "--collect-only")
    assert plugin.returncode == 4
    base = run_pytest("--sseu-model=oracle", *ASC_ONLY, "--sseu-snrs=0", f"--sseu-report-dir={tmp_path / 'r'}")
    assert base.returncode == 0, base.stdout[-2000:]
    capsys.readouterr()
    assert cli(["merge", str(tmp_path / "r"), "--out", str(tmp_path / "m"), "--thresholds", str(bounds)]) == 2
    message = capsys.readouterr().err.removeprefix("sseu merge: error: ").strip()
    assert message and message in plugin.stderr
    assert not (tmp_path / "m").exists()

GRID = ("--sseu-modes=independent", "--sseu-snrs=0,-5")


def test_the_regression_gate_passes_a_reseeded_rerun_and_fails_an_injected_drop(tmp_path):
    base = run_pytest("--sseu-model=chance,tests.helpers.adapters:Release", *GRID, f"--sseu-report-dir={tmp_path / 'base'}")
    assert base.returncode == 0, base.stdout[-2000:]
    rerun = run_pytest("--sseu-model=chance,tests.helpers.adapters:Release", *GRID, "--sseu-seed=7",
                       f"--sseu-baseline={tmp_path / 'base'}", f"--sseu-report-dir={tmp_path / 'again'}")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    comparisons = summary(tmp_path / "again")["comparisons"]
    assert len(comparisons) == 2 * 3 * 2  # models x tasks x SNRs
    chance = [c for c in comparisons if c["case"].startswith("chance")]
    assert any(abs(c["worsening"]) > 1 for c in chance)  # reseeding moved the numbers, the gate stayed calm
    assert not any(c["failed"] for c in comparisons)
    drop = run_pytest("--sseu-model=chance,tests.helpers.adapters:Release", *GRID, f"--sseu-baseline={tmp_path / 'base'}",
                      f"--sseu-report-dir={tmp_path / 'drop'}", env={"SSEU_TEST_DROP": "0.5"})
    assert drop.returncode == 1
    failed = {c["case"] for c in summary(tmp_path / "drop")["comparisons"] if c["failed"]}
    assert failed == {f"release-{t}-{s}-independent" for t in ("ASR", "ASC", "AT") for s in ("snr_0", "snr_m5")}
    assert "cases regressed" in drop.stdout and "## Against the baseline" in (tmp_path / "drop" / "summary.md").read_text()


def test_a_baseline_of_another_configuration_or_a_broken_one_is_refused(tmp_path, capsys):
    base = run_pytest("--sseu-model=oracle", *ASC_ONLY, "--sseu-snrs=0", f"--sseu-report-dir={tmp_path / 'base'}")
    assert base.returncode == 0
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "base", other)
    original = json.loads((other / "summary.json").read_text())
    for field, value, name in (("prompts", {"sha256": "f" * 64}, "prompt set"), ("normalizer", "sseu-en-0", "normaliser"),
                               ("mixer", "sseu-mix-1", "mixer (level rule)")):
        data = json.loads(json.dumps(original))
        data["meta"][field] = value
        (other / "summary.json").write_text(json.dumps(data))
        proc = run_pytest("--sseu-model=oracle", *ASC_ONLY, f"--sseu-baseline={other}", "--collect-only")
        assert proc.returncode == 4 and f"was made with another {name}" in proc.stderr, (field, proc.stderr[-500:])
        # merge refuses such a baseline, and such a shard, with the same check
        capsys.readouterr()
        assert cli(["merge", str(tmp_path / "base"), "--out", str(tmp_path / "m"), "--baseline", str(other)]) == 2
        assert f"baseline {other} was made with another {name}" in capsys.readouterr().err
        assert cli(["merge", str(tmp_path / "base"), str(other), "--out", str(tmp_path / "m")]) == 2
        assert f"{other} was made with another {name}" in capsys.readouterr().err
    proc = run_pytest("--sseu-model=oracle", *ASC_ONLY, f"--sseu-baseline={tmp_path / 'nothing'}", "--collect-only")
    assert proc.returncode == 4 and "no summary at" in proc.stderr


def test_merged_shards_equal_an_unsharded_run(tmp_path):
    args = ("--sseu-model=oracle,chance", "--sseu-tasks=ASC,AT", "--sseu-modes=independent,joint", "--sseu-runs=2")
    whole = run_pytest(*args, f"--sseu-report-dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stdout[-2000:]
    for k in (1, 2, 3):
        shard = run_pytest(*args, f"--sseu-shard={k}/3", f"--sseu-report-dir={tmp_path / f's{k}'}")
        assert shard.returncode == 0, shard.stdout[-2000:]
    sizes = [len([r for r in summary(tmp_path / f"s{k}")["records"] if "case" in r]) for k in (1, 2, 3)]
    assert sum(sizes) == 48 and min(sizes) > 0
    assert cli(["merge", *(str(tmp_path / f"s{k}") for k in (1, 2, 3)), "--out", str(tmp_path / "merged")]) == 0
    fields = ("value", "std", "ci_low", "ci_high", "n", "runs", "parse_failures")
    whole_records = by_key(summary(tmp_path / "whole")["records"])
    merged_records = by_key(summary(tmp_path / "merged")["records"])
    assert whole_records.keys() == merged_records.keys()
    for key, record in whole_records.items():
        assert {f: record[f] for f in fields} == {f: merged_records[key][f] for f in fields}, key
    assert (tmp_path / "merged" / "predictions.jsonl").read_text() == (tmp_path / "whole" / "predictions.jsonl").read_text()
    assert cli(["merge", str(tmp_path / "s1"), str(tmp_path / "s1"), "--out", str(tmp_path / "twice")]) == 2


def test_merge_applies_the_gates(tmp_path, capsys):
    run_pytest("--sseu-model=chance", *ASC_ONLY, "--sseu-shard=1/2", f"--sseu-report-dir={tmp_path / 'a'}")
    run_pytest("--sseu-model=chance", *ASC_ONLY, "--sseu-shard=2/2", f"--sseu-report-dir={tmp_path / 'b'}")
    bounds = write(tmp_path / "t.toml", '[[bound]]\ntask = "ASC"\nsnr = "avg"\nlimit = 50\n')
    code = cli(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m"), "--thresholds", str(bounds)])
    assert code == 1
    assert "gate bound::chance-ASC-avg-independent: FAILED: chance-ASC-avg-independent: mACC" in capsys.readouterr().out


def test_ci_artifacts_plots_and_the_github_step_summary(tmp_path):
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    proc = run_pytest("--sseu-model=oracle", "--sseu-snrs=0,-5", "--sseu-modes=independent,joint",
                      f"--sseu-report-dir={tmp_path / 'r'}", env={"GITHUB_STEP_SUMMARY": str(step)})
    assert proc.returncode == 0
    md = (tmp_path / "r" / "summary.md").read_text()
    assert step.read_text() == "earlier step\n" + md + "\n"
    for name in ("plot_ASR_vs_snr.png", "plot_ASC_vs_snr.png", "plot_AT_vs_snr.png"):
        assert (tmp_path / "r" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{name}]({name})" in md
    records = summary(tmp_path / "r")["records"]
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in records)
