"""Real sessions beside the paper: its exact figures and our deltas in all three outputs, and --sseu-protocol paper.

`tests.helpers.adapters:PaperQwen` names the paper's Qwen2-Audio-Instruct and answers like the oracle, so our
figures are known without the harness (WER 0, mACC and mAP 100); `ScoresOracle` is named LAION-CLAP through a
models file. The paper's figures below are typed from the paper, not read from the data file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.embeddings_server import EmbeddingsServer
from tests.helpers.session_runner import REPO, run_pytest, summary

QWEN = "tests.helpers.adapters:PaperQwen"
SCORES = "tests.helpers.adapters:ScoresOracle"
KEY = "sk-test-PAPER-0123456789abcdef"
# (model, task, snr, mode) -> (paper system, table, value, std), typed from the paper's Table 1 and Table 2
EXPECTED = {
    ("paper-qwen", "ASR", "snr_m10", "independent"): ("Qwen2-Audio-Instruct", "1", 37.71, 0.2),
    ("paper-qwen", "ASR", "snr_pinf", "independent"): ("Qwen2-Audio-Instruct", "1", 4.02, 0.1),
    ("paper-qwen", "ASR", "avg", "independent"): ("Qwen2-Audio-Instruct", "1", 14.50, 0.1),
    ("paper-qwen", "ASC", "snr_minf", "independent"): ("Qwen2-Audio-Instruct", "1", 38.67, 0.1),
    ("paper-qwen", "ASC", "avg_mixed", "independent"): ("Qwen2-Audio-Instruct", "2", 31.24, 0.1),
    ("paper-qwen", "AT", "avg_mixed", "joint"): ("Qwen2-Audio-Instruct", "2", 16.52, 1.1),
    ("paper-qwen", "ASR", "avg_mixed", "joint"): ("Qwen2-Audio-Instruct", "2", 22.16, 0.4),
    ("scores-oracle", "ASC", "snr_minf", "independent"): ("LAION-CLAP", "1", 76.61, None),
    ("scores-oracle", "AT", "avg", "independent"): ("LAION-CLAP", "1", 62.20, None),
}
OURS = {"ASR": 0.0, "ASC": 100.0, "AT": 100.0}  # the oracle's figures: the paper's upper bound


def _models_file(tmp: Path, text: str = "") -> Path:
    path = tmp / "models.toml"
    path.write_text(text + '[models.scores-oracle]\npaper_system = "LAION-CLAP"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def beside(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("beside")
    proc = run_pytest(f"--sseu-model={QWEN},{SCORES}", "--sseu-modes=independent,joint", "--sseu-bootstrap=50",
                      f"--sseu-models-file={_models_file(tmp)}", f"--sseu-report-dir={tmp / 'report'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "report", proc


def test_summary_json_carries_the_papers_figures_and_deltas(beside) -> None:
    report, _ = beside
    records = summary(report)["records"]
    by_slice = {(r["model"], r["task"], r["snr"], r["mode"]): r for r in records}
    for key, (system, table, value, std) in EXPECTED.items():
        record = by_slice[key]
        assert record["value"] == OURS[key[1]]
        assert record["paper"] == {"system": system, "table": table, "value": value, "std": std,
                                   "delta": OURS[key[1]] - value}, key
    with_paper = [(r["model"], r["snr"], r["mode"]) for r in records if "paper" in r]
    # Qwen: 18 Table 1 cells + 3 averages + 2 x 3 Table 2 cells; LAION-CLAP: 12 cells + 2 averages, no Table 2 row
    assert sum(m == "paper-qwen" for m, _, _ in with_paper) == 27
    assert sum(m == "scores-oracle" for m, _, _ in with_paper) == 14
    assert not [k for k in with_paper if k[2] == "joint" and k[1].startswith("snr_")]  # Table 1 is independent only
    meta = summary(report)["meta"]
    assert meta["models"]["paper-qwen"]["paper_system"] == "Qwen2-Audio-Instruct"
    assert meta["models"]["scores-oracle"]["paper_system"] == "LAION-CLAP"
    assert "paper_system" not in meta["models"]["scores-oracle"]["user_settings"]  # not part of the store key
    assert "protocol" not in meta


def _beside_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "Qwen2-Audio-Instruct" in line or "LAION-CLAP" in line]


def test_markdown_html_and_terminal_show_the_table(beside) -> None:
    report, proc = beside
    markdown = (report / "summary.md").read_text(encoding="utf-8")
    page = (report / "summary.html").read_text(encoding="utf-8")
    assert markdown.index("## Gates") < markdown.index("## Beside the paper") < markdown.index("## Table 1")
    assert page.index("<h2>Gates</h2>") < page.index("<h2>Beside the paper</h2>") < page.index("<h2>Records</h2>")
    for text in (markdown, page, proc.stdout):
        assert "Beside the paper" in text
        lines = _beside_lines(text.replace("</tr>", "\n"))
        m10 = [line for line in lines if "snr_m10" in line and "ASR" in line]
        assert len(m10) == 1 and "37.71 ± 0.2" in m10[0] and "-37.71" in m10[0] and "0.00" in m10[0]
        joint = [line for line in lines if "avg_mixed" in line and "joint" in line and "AT" in line]
        assert len(joint) == 1 and "16.52 ± 1.1" in joint[0] and "+83.48" in joint[0]
        clap = [line for line in lines if "LAION-CLAP" in line and "snr_minf" in line and "ASC" in line]
        assert len(clap) == 1 and "76.61" in clap[0] and "±" not in clap[0].split("76.61")[1][:4]
        assert f"{100 - 76.61:+.2f}" in clap[0]
    # the oracle's interval is its point: no paper figure lies inside it
    assert [line.split("|")[-2].strip() for line in _beside_lines(markdown) if line.startswith("| paper-qwen ")] == ["no"] * 27


def test_departures_are_computed_from_the_run(beside) -> None:
    report, _ = beside
    markdown = (report / "summary.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in markdown.splitlines()
            if line.startswith("| ") and line.count("|") == 4}
    meta = summary(report)["meta"]
    assert rows["protocol"] == "harness"
    assert rows["data set"] == f"sseu-demo (sha256 {meta['manifest']['sha256'][:12]})"
    assert rows["embedder"] == meta["embedder"] == "minilm:all-MiniLM-L6-v2"
    assert rows["runs · paper-qwen"] == "1"  # the paper: 3
    assert "runs · scores-oracle" not in rows  # a CLAP baseline: one run, as the paper
    assert rows["decoding · paper-qwen"] == "greedy"
    assert rows["decoding · scores-oracle"].startswith("no decoding setting (none needed")
    assert rows["CLAP texts · scores-oracle"].startswith("scene_template '{name}', event_template '{name}'")
    assert rows["prompt set"] == f"{meta['prompts']['version']} (sha256 {meta['prompts']['sha256'][:12]})"
    assert rows["WER normaliser"] == meta["normalizer"]
    assert f"(mixer {meta['mixer']})" in rows["SNR and level rule"]


@pytest.fixture
def embeddings() -> EmbeddingsServer:
    server = EmbeddingsServer()
    yield server
    server.close()


def test_protocol_paper_sets_runs_decoding_and_embedder(tmp_path: Path, embeddings: EmbeddingsServer) -> None:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": embeddings.url, "NO_PROXY": "127.0.0.1"}
    proc = run_pytest(f"--sseu-model={QWEN},{SCORES}", "--sseu-protocol=paper", "--sseu-snrs=snr_0", "--sseu-tasks=ASC,AT",
                      "--sseu-modes=independent", "--sseu-bootstrap=20", f"--sseu-models-file={_models_file(tmp_path)}",
                      f"--sseu-report-dir={tmp_path / 'report'}", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = summary(tmp_path / "report")
    meta = got["meta"]
    assert meta["protocol"] == "paper" and meta["runs"] == 3
    assert meta["embedder"] == f"openai:text-embedding-3-large@{embeddings.url}"
    qwen, clap = meta["models"]["paper-qwen"], meta["models"]["scores-oracle"]
    assert (qwen["runs"], qwen["decoding"], qwen["user_settings"]) == (3, "model", {"decoding": "model"})
    assert (clap["runs"], clap["decoding"]) == (1, None)  # no std in the paper; no decoding setting
    cases = {r["model"]: r for r in got["records"] if "case" in r}
    assert (cases["paper-qwen"]["runs"], cases["paper-qwen"]["seeds"]) == (3, [0, 1, 2])
    assert (cases["scores-oracle"]["runs"], cases["scores-oracle"]["seeds"]) == (1, [0])
    assert embeddings.requests and {r["body"]["model"] for r in embeddings.requests} == {"text-embedding-3-large"}
    assert {r["authorization"] for r in embeddings.requests} == {f"Bearer {KEY}"}
    markdown = (tmp_path / "report" / "summary.md").read_text(encoding="utf-8")
    assert "| runs ·" not in markdown and "| decoding · paper-qwen" not in markdown and "| protocol " not in markdown
    assert "| decoding · scores-oracle " in markdown  # recorded: it has no decoding setting
    for path in (tmp_path / "report").rglob("*"):
        assert not path.is_file() or KEY not in path.read_text(encoding="utf-8", errors="replace"), path


def test_an_explicit_option_wins_and_is_a_departure(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": ""}  # no key is needed: the embedder is given
    proc = run_pytest(f"--sseu-model={QWEN}", "--sseu-protocol=paper", "--sseu-runs=2", "--sseu-embedder=minilm",
                      '--sseu-model-set=decoding="greedy"', "--sseu-snrs=snr_0", "--sseu-tasks=ASR",
                      "--sseu-modes=independent", "--sseu-bootstrap=20", f"--sseu-report-dir={tmp_path / 'report'}",
                      env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    meta = summary(tmp_path / "report")["meta"]
    assert (meta["protocol"], meta["runs"], meta["embedder"]) == ("paper", 2, "minilm:all-MiniLM-L6-v2")
    assert meta["models"]["paper-qwen"]["user_settings"] == {"decoding": "greedy"}
    markdown = (tmp_path / "report" / "summary.md").read_text(encoding="utf-8")
    departures = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in markdown.splitlines()
                  if line.startswith("| ") and line.count("|") == 4}
    assert departures["runs · paper-qwen"] == "2"
    assert departures["decoding · paper-qwen"] == "greedy"
    assert departures["embedder"] == "minilm:all-MiniLM-L6-v2"
    assert "protocol" not in departures


@pytest.mark.parametrize("args,file_text,needles", [
    (("--sseu-protocol=paper",), "", ("OPENAI_API_KEY", "OPENAI_BASE_URL", "--sseu-embedder")),
    ((), 'protocol = "paper"\n', ("OPENAI_API_KEY", "OPENAI_BASE_URL", "--sseu-embedder")),  # the models-file key
    (("--sseu-protocol=papers",), "", ("unknown protocol 'papers'", "harness, paper")),
    ((), 'protocol = "papers"\n', ("unknown protocol 'papers'", "models file")),
    (('--sseu-model-set=paper_system="Qwen2-Audio"',), "", ("unknown paper_system 'Qwen2-Audio'",
                                                             "'Qwen2-Audio-Instruct'", "'Step-Audio 2 Mini'")),
])
def test_usage_errors_before_any_model_loads(tmp_path: Path, args, file_text, needles) -> None:
    log = tmp_path / "calls.log"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", f"--sseu-models-file={_models_file(tmp_path, file_text)}",
                      *args, f"--sseu-report-dir={tmp_path / 'report'}",
                      env={"OPENAI_API_KEY": "", "SSEU_TEST_CALL_LOG": str(log), "SSEU_TEST_REFUSE_LOAD": "1"})
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and not log.exists()


def test_merge_keeps_the_table_and_checks_the_protocol(beside, tmp_path: Path) -> None:
    report, _ = beside
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    merged = subprocess.run([sys.executable, "-m", "sseu_harness", "merge", str(report), "--out", str(tmp_path / "m")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert "Beside the paper" in merged.stdout and "37.71 ± 0.2" in merged.stdout
    assert summary(tmp_path / "m")["records"] == summary(report)["records"]
    refused = subprocess.run([sys.executable, "-m", "sseu_harness", "merge", str(report), "--out", str(tmp_path / "p"),
                              "--protocol", "paper"], capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2 and "run under protocol harness, not paper" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "p").exists()
