"""Real pytest benchmark sessions on the demo clips, one family of adapters or more per session.

- `qwen2-audio` in-process and `kimi-audio` through the process boundary (our
  model server, in a subprocess, running a tiny Qwen2-Audio with `tomllib`
  hidden as on Python 3.10), configured by one models file;
- `whisper` (ASR) and `laion-clap` (ASC, AT) in one session, their other cases
  skipped with the reason.

Tiny random models answer garbage: the sessions check that the pipeline ran
(records for every case, n = clips, parse failures counted, values in range),
not accuracy. The `openai` session against a loopback server lives in
`test_adapter_openai.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from model_adapters.openai_compatible.adapter import OpenAIChatAdapter
from sseu_harness.adapter import Request
from tests.helpers.session_runner import DEMO_ITEMS, REPO, by_key, run_pytest, summary
from tests.helpers.tiny_models import tiny_clap, tiny_qwen2_audio, tiny_whisper


@pytest.fixture(scope="module")
def served_qwen(tmp_path_factory):
    """(base URL, model folder) of a tiny Qwen2-Audio behind our model server in a subprocess."""
    model = tiny_qwen2_audio(tmp_path_factory)
    code = ("import runpy, sys; sys.modules['tomllib'] = None; "  # as on Python 3.10: no tomllib
            "sys.argv = ['openai_server'] + sys.argv[1:]; "
            "runpy.run_module('model_adapters.serve.openai_server', run_name='__main__')")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.Popen([sys.executable, "-c", code, "--model", "qwen2-audio", "--model-path", str(model),
                             "--port", "0", "--max-batch", "13"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("serving"):
            proc.kill()
            raise AssertionError(f"the server did not start: {line}{proc.stderr.read()[-3000:]}")
        yield line.split(" at ")[1].split()[0], model
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_served_answers_equal_in_process_answers(served_qwen):
    """The boundary is transparent: same clip, same prompt, same decoding, same answer."""
    from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter

    url, model = served_qwen
    rng = np.random.default_rng(4)
    audio = (rng.integers(-3000, 3000, 16_000 * 3) / 32768).astype(np.float32)  # exact in 16-bit PCM
    requests = [Request(None, audio, prompt, None, "independent", 0) for prompt in ("Which scene?", "Events?")]  # type: ignore[arg-type]
    remote = OpenAIChatAdapter(base_url=url, api_model="qwen2-audio", max_new_tokens=8, max_retries=0)
    local = Qwen2AudioAdapter(model=str(model), max_new_tokens=8)
    assert remote.answer(requests) == local.answer(requests)
    remote.close()


def test_session_qwen2_audio_in_process_and_kimi_audio_through_the_server(served_qwen, tmp_path):
    url, model = served_qwen
    models = tmp_path / "models.toml"
    models.write_text(f'[models.qwen2-audio]\nmodel = "{model}"\nmax_new_tokens = 8\nbatch_size = 13\n\n'
                      f'[models.kimi-audio]\nbase_url = "{url}"\nmax_new_tokens = 8\n', encoding="utf-8")
    proc = run_pytest("--sseu-model=qwen2-audio,kimi-audio", f"--sseu-models-file={models}", "--sseu-snrs=0",
                      "--sseu-modes=joint", f"--sseu-report-dir={tmp_path / 'r'}", f"--sseu-cache-dir={tmp_path / 'c'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "7 passed" in proc.stdout  # 6 cases and the hearing gate
    records = by_key(summary(tmp_path / "r")["records"])
    for model_name in ("qwen2-audio", "kimi-audio"):
        for task, top in (("ASR", 10_000), ("ASC", 100), ("AT", 100)):
            rec = records[(model_name, task, "snr_0", "joint")]
            assert rec["n"] == DEMO_ITEMS
            assert 0 <= rec["value"] <= top and 0 <= rec["parse_failures"] <= DEMO_ITEMS
        # a random model's answers have no "Transcript:" line: every clip counted as a failure, none dropped
        assert records[(model_name, "ASR", "snr_0", "joint")]["parse_failures"] == DEMO_ITEMS
    rows = [json.loads(line) for line in (tmp_path / "r" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 3 * DEMO_ITEMS
    assert all(isinstance(r["answer"], str) and r["answer"] for r in rows)


def test_session_whisper_and_laion_clap_with_skips(tmp_path_factory, tmp_path):
    models = tmp_path / "models.toml"
    models.write_text(f'[models.whisper]\nmodel = "{tiny_whisper(tmp_path_factory)}"\nmax_new_tokens = 8\n\n'
                      f'[models.laion-clap]\nmodel = "{tiny_clap(tmp_path_factory)}"\n', encoding="utf-8")
    proc = run_pytest("--sseu-model=whisper,laion-clap", f"--sseu-models-file={models}", "--sseu-snrs=0", "-rs",
                      f"--sseu-report-dir={tmp_path / 'r'}", f"--sseu-cache-dir={tmp_path / 'c'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # each model: 9 cases at 0 dB; whisper runs ASR independent, laion-clap ASC and AT independent
    assert "4 passed, 15 skipped" in proc.stdout  # and the hearing gate: whisper and laion-clap listen
    for reason in ("whisper does not do ASC", "whisper does not support joint mode", "laion-clap does not do ASR",
                   "laion-clap does not support cot mode"):
        assert reason in proc.stdout
    records = by_key(summary(tmp_path / "r")["records"])
    asr = records[("whisper", "ASR", "snr_0", "independent")]
    assert asr["n"] == DEMO_ITEMS and asr["value"] >= 0
    for task in ("ASC", "AT"):
        rec = records[("laion-clap", task, "snr_0", "independent")]
        assert rec["n"] == DEMO_ITEMS and rec["parse_failures"] == 0 and 0 <= rec["value"] <= 100
    rows = [json.loads(line) for line in (tmp_path / "r" / "predictions.jsonl").read_text().splitlines()]
    assert {r["answer"] for r in rows if r["model"] == "laion-clap"} == {"<class scores>"}
    assert sum(r["model"] == "whisper" for r in rows) == DEMO_ITEMS
