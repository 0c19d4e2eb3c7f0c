"""The plugin end to end: real pytest sessions in subprocesses, on the built-in demo set."""

from __future__ import annotations

import json

import pytest

from sseu_harness.dataset.manifest import load_manifest
from tests.helpers.session_runner import DEMO_ITEMS, by_key, run_pytest, summary


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    proc = run_pytest("--sseu-model=oracle", "--sseu-model", "chance", f"--sseu-report-dir={out}",
                      f"--sseu-cache-dir={out / 'cache'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc


def test_oracle_reaches_the_upper_bound_on_every_case(serial_run):
    out, _ = serial_run
    records = [r for r in summary(out)["records"] if r["model"] == "oracle"]
    cases = [r for r in records if r["snr"].startswith("snr_")]
    assert len(cases) == 54
    for rec in records:
        assert rec["value"] == {"WER": 0.0, "mACC": 100.0, "mAP": 100.0}[rec["metric"]], rec
        assert rec["parse_failures"] == 0
    assert {r["snr"] for r in records} >= {"avg", "avg_mixed"}


def test_chance_is_the_lower_bound(serial_run):
    out, _ = serial_run
    records = [r for r in summary(out)["records"] if r["model"] == "chance"]
    assert all(r["value"] == 100.0 for r in records if r["metric"] == "WER")
    scene = [r["value"] for r in records if r["metric"] == "mACC"]
    assert 0 < min(scene) and max(scene) < 50  # 6 scenes: about 17 % by chance


def test_summary_files_and_metadata(serial_run):
    out, proc = serial_run
    data = summary(out)
    assert data["schema"] == "sseu-summary/1"
    meta = data["meta"]
    assert meta["normalizer"] == "whisper-en-1/whisper-normalizer-0.1.15" and meta["seeds"] == [0] and len(meta["manifest"]["sha256"]) == 64
    assert len(meta["prompts"]["sha256"]) == 64 and meta["embedder"].startswith("minilm")
    for rec in data["records"]:
        assert {"model", "task", "snr", "mode", "metric", "value", "std", "runs", "n", "parse_failures", "refusals"} <= rec.keys()
    assert (out / "summary.md").read_text().count("Table 1") == 9
    assert (out / "summary.csv").read_text().splitlines()[0] == "model,task,snr,mode,metric,value,std,ci_low,ci_high,runs,n,parse_failures,refusals,errors"
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 54 * DEMO_ITEMS
    assert not list(out.glob(".partial-*"))
    assert "Table 2" in proc.stdout and "clips/s" in proc.stdout


def test_numbers_are_identical_with_xdist(serial_run, tmp_path):
    out, _ = serial_run
    for workers in ("2", "8"):
        report = tmp_path / workers
        proc = run_pytest("--sseu-model=oracle,chance", "-n", workers, f"--sseu-report-dir={report}",
                          f"--sseu-cache-dir={tmp_path / 'cache'}")
        assert proc.returncode == 0, proc.stdout[-3000:]
        serial, parallel = by_key(summary(out)["records"]), by_key(summary(report)["records"])
        assert serial.keys() == parallel.keys()
        for key, rec in serial.items():
            assert (parallel[key]["value"], parallel[key]["n"]) == (rec["value"], rec["n"]), key
        assert (report / "predictions.jsonl").read_text() == (out / "predictions.jsonl").read_text()


def test_k_selects_exactly_the_at_cases_at_m10_from_a_folder_named_at(tmp_path):
    folder = tmp_path / "evaluate_data_at"
    folder.mkdir()
    proc = run_pytest("--sseu-model=oracle", "--collect-only", "-q", "-k", "snr_m10 and AT", cwd=folder)
    assert proc.returncode == 0, proc.stdout
    selected = [line for line in proc.stdout.splitlines() if line.startswith("sseu::")]
    assert selected == [f"sseu::oracle-AT-snr_m10-{mode}" for mode in ("independent", "joint", "cot")]


def test_grid_options_narrow_the_cases(tmp_path):
    proc = run_pytest("--sseu-model=oracle", "--collect-only", "-q", "--sseu-tasks=asr,AT",
                      "--sseu-snrs=snr_0,-inf", "--sseu-modes=joint")
    selected = [line for line in proc.stdout.splitlines() if line.startswith("sseu::")]
    assert selected == ["sseu::oracle-ASR-snr_0-joint", "sseu::oracle-AT-snr_0-joint", "sseu::oracle-AT-snr_minf-joint"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sseu-model=gpt-17"], "unknown model 'gpt-17'; known models: chance, clap,"),
        (["--sseu-model=oracle", "--sseu-tasks=ASR,SED"], "--sseu-tasks: unknown value 'SED'"),
        (["--sseu-model=oracle", "--sseu-modes=cott"], "--sseu-modes: unknown value 'cott'"),
        (["--sseu-model=oracle", "--sseu-snrs=snr_p3"], "snr_p3"),
        (["--sseu-model=oracle", "--sseu-data=/nonexistent/set"], "/nonexistent/set"),
        (["--sseu-model=oracle", "--sseu-runs=0"], "--sseu-runs must be at least 1"),
        (["--sseu-model=oracle", "--sseu-normalizer=whisper"],
         "--sseu-normalizer 'whisper' is not a known normaliser; choose one of: whisper-en, sseu-en-1"),
    ],
)
def test_bad_options_are_usage_errors(args, message):
    proc = run_pytest(*args, "--collect-only")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_lost_record_fails_the_session_loudly(tmp_path, workers):
    proc = run_pytest("--sseu-model=oracle", "--sseu-tasks=ASC", "--sseu-modes=independent", "-n", workers,
                      "-p", "tests.helpers.lose_one_record", f"--sseu-report-dir={tmp_path}")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "1 case(s) delivered no metric record" in proc.stdout
    assert "sseu::oracle-ASC-snr_0-independent" in proc.stdout


def test_runs_give_mean_and_std_and_greedy_models_warn(tmp_path):
    proc = run_pytest("--sseu-model=chance,oracle", "--sseu-runs=3", "--sseu-tasks=ASC", "--sseu-snrs=0",
                      "--sseu-modes=independent", f"--sseu-report-dir={tmp_path}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    chance, oracle = (by_key(summary(tmp_path)["records"])[(m, "ASC", "snr_0", "independent")] for m in ("chance", "oracle"))
    assert chance["runs"] == 3 and chance["std"] > 0 and len(set(chance["run_values"])) > 1
    assert chance["seeds"] == [0, 1, 2]
    assert oracle["std"] == 0.0
    assert " ± " in proc.stdout
    assert "oracle decodes greedily: its 3 runs will give identical answers" in proc.stdout


def test_score_adapters_skip_what_they_do_not_support(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:ScoresOracle", "--sseu-snrs=snr_0", f"--sseu-report-dir={tmp_path}", "-rs")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "2 passed, 7 skipped" in proc.stdout
    assert "scores-oracle does not do ASR" in proc.stdout and "does not support joint mode" in proc.stdout
    records = by_key(summary(tmp_path)["records"])
    assert records[("scores-oracle", "ASC", "snr_0", "independent")]["value"] == 100.0
    assert records[("scores-oracle", "AT", "snr_0", "independent")]["value"] == 100.0


def test_adapters_get_batches_at_their_own_rate(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Batcher", "--sseu-snrs=snr_m5", "--sseu-modes=joint",
                      f"--sseu-report-dir={tmp_path}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    records = by_key(summary(tmp_path)["records"])
    assert records[("batcher", "ASR", "snr_m5", "joint")]["value"] == 0.0


def test_model_names_that_break_k_are_warned_about(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Format", "--collect-only", "-q")
    assert "model name 'format-bot' contains 'asr', 'asc', 'at' or 'snr_'" in proc.stdout


def test_plain_pytest_does_not_collect_benchmark_cases():
    proc = run_pytest("--collect-only", "-q", "tests/unit/test_cases.py")
    assert proc.returncode == 0
    assert "sseu::" not in proc.stdout and "test_grid_has_54_cases_per_model" in proc.stdout


def test_joint_and_cot_answers_are_computed_once_per_clip_and_group_stays_on_one_worker(tmp_path):
    log = tmp_path / "calls.jsonl"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", "-n", "2", "--sseu-snrs=0,-5", "--sseu-modes=joint,cot",
                      f"--sseu-report-dir={tmp_path / 'r'}", env={"SSEU_TEST_CALL_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout[-2000:]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # 2 SNRs x 2 modes x 26 clips: one model call per clip and group, not one per task case
    assert len(calls) == 2 * 2 * DEMO_ITEMS
    assert all(c["task"] is None for c in calls)
    records = [r for r in summary(tmp_path / "r")["records"] if "case" in r]
    assert len(records) == 12
    workers = {}
    for rec in records:
        workers.setdefault((rec["snr"], rec["mode"]), set()).add(rec["worker"])
    assert all(len(w) == 1 for w in workers.values()), workers
    assert {r["value"] for r in records} == {0.0, 100.0}


def test_normaliser_choice_and_refusals_in_a_session(tmp_path):
    """Digits and "It is" score WER 0 under the default normaliser and are errors under sseu-en-1 (jiwer by
    hand); "I don't know" scenes are refusals scored wrong (not embedded onto *home*); refusals are counted."""
    import xml.etree.ElementTree as ET

    import jiwer

    from sseu_harness.scoring.sseu_en import normalize
    from tests.helpers.adapters import Decliner

    items = load_manifest().items
    common = ("--sseu-model=tests.helpers.adapters:Decliner", "--sseu-snrs=0", f"--sseu-cache-dir={tmp_path / 'cache'}")
    default = run_pytest(*common, f"--sseu-report-dir={tmp_path / 'w'}", f"--junitxml={tmp_path / 'junit.xml'}")
    assert default.returncode == 0, default.stdout[-3000:]
    plain = run_pytest(*common, "--sseu-normalizer=sseu-en-1", f"--sseu-report-dir={tmp_path / 's'}")
    assert plain.returncode == 0, plain.stdout[-3000:]
    whisper, sseu = (summary(tmp_path / name) for name in ("w", "s"))
    assert whisper["meta"]["normalizer"] == "whisper-en-1/whisper-normalizer-0.1.15"
    assert sseu["meta"]["normalizer"] == "sseu-en-1"
    key = ("decliner", "ASR", "snr_0", "independent")
    assert by_key(whisper["records"])[key]["value"] == 0.0
    refs = [normalize(i.speech.transcript) for i in items]
    hyps = [normalize(Decliner.transcript(i.speech.transcript)) for i in items]
    assert refs != hyps
    assert by_key(sseu["records"])[key]["value"] == pytest.approx(100 * jiwer.wer(refs, hyps))
    assert by_key(sseu["records"])[key]["normalizer"] == "sseu-en-1"

    records = by_key(whisper["records"])
    scene = records[("decliner", "ASC", "snr_0", "independent")]
    assert scene["value"] == 0.0 and scene["refusals"] == len(items) and scene["parse_failures"] == 0
    events = records[("decliner", "AT", "snr_0", "independent")]
    assert events["refusals"] == sum(Decliner.declines_events(i.id) for i in items) > 0
    rows = [json.loads(line) for line in (tmp_path / "w" / "predictions.jsonl").read_text().splitlines()]
    at_rows = [r for r in rows if r["case"] == "decliner-AT-snr_0-independent"]
    for row in at_rows:
        assert row["refused"] == Decliner.declines_events(row["item"])
        assert (not any(row["scores"])) == row["refused"]  # a refusal scores p_n = 0, never an embedding
    assert all(r["refused"] and r["predicted_scene"] is None for r in rows if r["task"] == "ASC")
    csv_row = next(line for line in (tmp_path / "w" / "summary.csv").read_text().splitlines()
                   if line.startswith("decliner,ASC,snr_0,independent,"))
    assert csv_row.split(",")[-2] == str(len(items))
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for case in junit.iter("testcase")
             if case.get("name") == "decliner-ASC-snr_0-independent" for p in case.iter("property")}
    assert props["refusals"] == str(len(items))
