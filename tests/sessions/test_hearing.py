"""The hearing gate: a model whose answers do not depend on the audio fails; listeners and references pass.

Unit tests feed hand-made prediction rows to `HearingCheck`; session tests run
real pytest sessions on the demo clips with fakes from `tests/helpers/adapters.py`
(`Deaf` ignores its audio, `Listener` answers with the clip's loudness) and
join shards with `sseu merge`. The real Whisper passes in `test_faster_whisper.py`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

from sseu_harness.cli import main as cli
from sseu_harness.results.gates import HEARING_MIN_CLIPS as MIN_CLIPS
from sseu_harness.results.gates import HearingCheck
from sseu_harness.results.records import Record
from sseu_harness.scoring.rows import ClipRow
from tests.helpers.session_runner import DEMO_ITEMS, run_pytest, summary

ONE_SNR = ("--sseu-snrs=0", "--sseu-modes=independent")


def rows(answers: list, run: int = 0) -> list[ClipRow]:
    return [ClipRow(item=f"i{k}", run=run, answer=a, failure=None) for k, a in enumerate(answers)]


def meta(**listens: bool) -> dict:
    return {"models": {name: {"spec": name, "listens": value} for name, value in listens.items()}}


def hearing_gate(report) -> dict:
    (gate,) = [g for g in summary(report).get("gates", []) if g["name"] == "hearing"]
    return gate


def test_one_answer_for_every_clip_of_every_case_fails_and_gives_the_evidence():
    check = HearingCheck.from_meta(meta(deaf=True))
    for case in ("deaf-ASR-snr_0-independent", "deaf-ASC-snr_0-independent"):
        check.add(case, "deaf", rows(["the same words"] * 26))
    gate, figures = check.result([])
    assert not gate.passed
    assert gate.message.startswith("deaf: its answers do not depend on the audio: 1 distinct answer for 26 clips "
                                   "in 2 of 2 cases")
    assert figures["models"]["deaf"]["single_answer_cases"] == 2 and figures["models"]["deaf"]["passed"] is False


def test_one_case_that_varies_is_enough_and_small_or_failed_cases_are_not_judged():
    check = HearingCheck.from_meta(meta(m=True))
    check.add("m-ASR-snr_0-independent", "m", rows(["same"] * 10))
    check.add("m-ASC-snr_0-independent", "m", rows(["Scene: home", "Scene: home", "Scene: cafe", "Scene: home", "x"]))
    gate, _ = check.result([])
    assert gate.passed and gate.message == "m: answers vary with the audio in 1 of 2 cases"
    small = HearingCheck.from_meta(meta(m=True))
    small.add("m-ASR-snr_0-independent", "m", rows(["same"] * (MIN_CLIPS - 1)))
    failed = rows(["same"] * 20)
    # failed model calls are no answers: 3 answered clips are too few to judge
    failed[3:] = [replace(row, failure="error: RuntimeError: boom") for row in failed[3:]]
    small.add("m-ASC-snr_0-independent", "m", failed)
    gate, figures = small.result([])
    assert gate.passed and "nothing to judge" in gate.message and figures["models"]["m"]["cases_checked"] == 0
    assert not gate.judged and gate.status == "not judged"  # not "passed": nothing was heard
    assert check.result([])[0].judged  # the first check judged a case


def test_no_answered_clip_at_all_reads_not_judged_in_every_report():
    from sseu_harness.report.html import ReportPage, _gates
    from sseu_harness.report.tables import terminal_block

    check = HearingCheck.from_meta(meta(m=True))
    check.add("m-ASC-snr_0-independent", "m", [replace(r, failure="error: EndpointError: down")
                                               for r in rows(["x"] * 26)])
    gate, _ = check.result([])
    assert terminal_block([], gates=[gate]).strip() == (
        f"gate hearing: not judged: m: no case with at least {MIN_CLIPS} answered clips, nothing to judge")
    page = ReportPage(records=[], meta={}, gates=[{**gate.__dict__}], comparisons=[], plots={}, drills=[])
    assert ">not judged: <code>hearing</code>" in _gates(page)


def test_long_answers_are_compared_whole_not_by_their_stored_beginning():
    check = HearingCheck.from_meta(meta(m=True))
    long = [ClipRow(item=f"i{k}", run=0, answer="x" * 4000, failure=None, answer_sha256=f"{k:064x}")
            for k in range(6)]
    check.add("m-ASR-snr_0-independent", "m", long)
    assert check.result([])[0].passed


def test_identical_class_scores_count_as_one_answer_and_references_are_not_checked():
    check = HearingCheck.from_meta(meta(clap=True, oracle=False))
    same = [ClipRow(item=f"i{k}", run=0, answer="<class scores>", failure=None, class_scores=[0.1, 0.9])
            for k in range(8)]
    check.add("clap-ASC-snr_0-independent", "clap", same)
    check.add("oracle-ASR-snr_0-independent", "oracle", rows(["same"] * 8))
    gate, figures = check.result([])
    assert not gate.passed and "clap:" in gate.message and "oracle" not in gate.message
    assert figures["not_checked"] == ["oracle"]
    only_references = HearingCheck.from_meta(meta(oracle=False))
    only_references.add("oracle-ASR-snr_0-independent", "oracle", rows(["same"] * 8))
    assert only_references.result([]) is None  # no entry at all when nothing listens


def test_a_clean_speech_wer_of_95_or_more_warns_without_failing():
    check = HearingCheck.from_meta(meta(m=True))
    check.add("m-ASR-snr_pinf-independent", "m", rows([f"words {k}" for k in range(6)]))
    records = [Record.from_json({"case": "m-ASR-snr_pinf-independent", "model": "m", "task": "ASR", "snr": "snr_pinf",
                                 "mode": "independent", "metric": "WER", "value": 101.5, "std": 0.0, "runs": 1,
                                 "run_values": [101.5], "n": 6, "parse_failures": 0})]
    gate, figures = check.result(records)
    assert gate.passed
    assert "Warning: m: ASR WER at snr_pinf is 101.5 % (independent), at least 95 %" in gate.message
    assert figures["warnings"] and figures["models"]["m"]["asr_wer_snr_pinf"] == {"independent": 101.5}


def test_a_session_with_a_deaf_model_fails_on_the_gate_also_in_junit(tmp_path):
    xml = tmp_path / "junit.xml"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Deaf,oracle,chance", *ONE_SNR, f"--junitxml={xml}",
                      f"--sseu-report-dir={tmp_path / 'r'}")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    message = (f"deaf: its answers do not depend on the audio: 1 distinct answer for {DEMO_ITEMS} clips "
               "in 3 of 3 cases")
    assert "FAILED sseu::gate::hearing" in proc.stdout and message in proc.stdout
    assert "1 failed, 9 passed" in proc.stdout  # 9 cases pass; oracle and chance are not checked
    gate = hearing_gate(tmp_path / "r")
    assert not gate["passed"] and gate["message"].startswith(message)
    assert gate["figures"]["not_checked"] == ["chance", "oracle"]
    assert gate["figures"]["models"]["deaf"]["cases"]["deaf-AT-snr_0-independent"] == {
        "clips": DEMO_ITEMS, "distinct_answers": 1}
    (case,) = [c for c in ET.parse(xml).getroot().iter("testcase") if c.get("name") == "hearing"]
    assert case.find("failure") is not None and message in case.find("failure").get("message")


def test_a_deaf_class_score_model_fails_and_the_option_turns_the_check_off(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:DeafScores", *ONE_SNR, f"--sseu-report-dir={tmp_path / 'a'}")
    assert proc.returncode == 1 and "deaf-scores: its answers do not depend on the audio" in proc.stdout
    off = run_pytest("--sseu-model=tests.helpers.adapters:DeafScores", *ONE_SNR, "--sseu-no-hearing-check",
                     f"--sseu-report-dir={tmp_path / 'b'}")
    assert off.returncode == 0, off.stdout[-3000:]
    assert "gate hearing" not in off.stdout and "2 passed" in off.stdout
    report = summary(tmp_path / "b")
    assert not [g for g in report.get("gates", []) if g["name"] == "hearing"]
    assert report["meta"]["gates"]["hearing"] is False


def test_a_listening_fake_passes_and_under_k_only_the_present_cases_are_judged(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Listener", "--sseu-snrs=0,snr_pinf", "--sseu-modes=independent",
                      "-k", "ASR", f"--sseu-report-dir={tmp_path / 'r'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    gate = hearing_gate(tmp_path / "r")
    assert gate["passed"] and gate["message"].startswith("listener: answers vary with the audio in 2 of 2 cases")
    assert set(gate["figures"]["models"]["listener"]["cases"]) == {"listener-ASR-snr_0-independent",
                                                                   "listener-ASR-snr_pinf-independent"}
    # "level -23.41" is no transcript: WER 100 % on clean speech warns, without failing
    assert "Warning: listener: ASR WER at snr_pinf is 100.0 % (independent)" in gate["message"]


def test_merge_runs_the_gate_on_the_joined_shards(tmp_path, capsys):
    for k in (1, 2):
        run_pytest("--sseu-model=tests.helpers.adapters:Deaf", *ONE_SNR, f"--sseu-shard={k}/2",
                   f"--sseu-report-dir={tmp_path / f's{k}'}")
    shards = [str(tmp_path / "s1"), str(tmp_path / "s2")]
    assert cli(["merge", *shards, "--out", str(tmp_path / "m")]) == 1
    out = capsys.readouterr().out
    assert f"gate hearing: FAILED: deaf: its answers do not depend on the audio: 1 distinct answer for {DEMO_ITEMS} clips in 3 of 3 cases" in out
    assert not hearing_gate(tmp_path / "m")["passed"]
    assert cli(["merge", *shards, "--out", str(tmp_path / "off"), "--no-hearing-check"]) == 0
    assert "gate hearing" not in capsys.readouterr().out


def test_rows_keep_the_class_scores_a_model_gave(tmp_path):
    proc = run_pytest("--sseu-model=tests.helpers.adapters:DeafScores", *ONE_SNR, "--sseu-no-hearing-check",
                      f"--sseu-report-dir={tmp_path / 'r'}")
    assert proc.returncode == 0
    rows = [json.loads(line) for line in (tmp_path / "r" / "predictions.jsonl").read_text().splitlines()]
    asc = [r for r in rows if r["task"] == "ASC"]
    assert len(asc) == DEMO_ITEMS and all(len(r["class_scores"]) == 6 for r in asc)
    assert asc[0]["class_scores"][0] == 0.1 and asc[0]["class_scores"][-1] == 0.9
