"""The process boundary: our model server (stdlib HTTP, OpenAI chat protocol) around any in-process adapter."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from model_adapters.families.text import Decoding, TextAdapter
from model_adapters.openai_compatible.adapter import OpenAIChatAdapter
from model_adapters.utils.audio import wav_base64
from model_adapters.utils.served_identity import NOTHING, ONLY_THE_LISTING, served_identity
from model_server.openai_server import ModelServer
from sseu_harness.adapter import Adapter, ClassScores, Request
from sseu_harness.errors import ConfigError
from tests.helpers.chat_server import ChatServer
from tests.helpers.session_runner import DEMO_ITEMS, REPO, run_pytest, summary


class Echo(TextAdapter):
    """Answers with what it was given, and logs each batch."""

    name = "echo"
    sample_rate = 16_000
    takes_system_prompt = True

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[Request]] = []
        self.decodings: list[Decoding] = []
        self.fail = fail

    def generate(self, requests, decoding):
        if self.fail:
            raise RuntimeError("the model fell over")
        self.batches.append(list(requests))
        self.decodings.append(decoding)
        time.sleep(0.05)
        return [f"{r.prompt}|{r.audio.size}|{r.audio.dtype}" for r in requests]


class Scores(Adapter):
    name = "scores"

    def answer(self, requests):
        return [ClassScores(scenes=np.ones(6)) for _ in requests]


@pytest.fixture
def echo():
    adapter = Echo()
    server = ModelServer(adapter, "echo-model", port=0, max_batch=8, batch_wait_ms=150).start()
    yield server, adapter
    server.close()


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def audio_part(audio: np.ndarray, rate: int) -> dict:
    return {"type": "input_audio", "input_audio": {"data": wav_base64(audio, rate), "format": "wav"}}


def body(prompt="Which scene?", seconds=1.0, rate=16_000, **extra) -> dict:
    audio = np.zeros(int(seconds * rate), dtype=np.float32)
    return {"model": "echo-model", "messages": [{"role": "user", "content": [
        {"type": "text", "text": prompt}, audio_part(audio, rate)]}], **extra}


def test_a_chat_request_becomes_a_request_to_the_adapter(echo):
    server, adapter = echo
    status, reply = post(server.base_url, body(prompt="Events?", seconds=2.0, rate=8_000, max_tokens=17))
    assert status == 200
    assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["choices"][0]["message"]["content"] == "Events?|32000|float32"  # resampled 8 -> 16 kHz
    assert adapter.decodings[-1] == Decoding(max_new_tokens=17, temperature=0.0, top_p=None, seed=None)
    post(server.base_url, body(temperature=0.5, top_p=0.8, seed=3, max_completion_tokens=5))
    assert adapter.decodings[-1] == Decoding(max_new_tokens=5, temperature=0.5, top_p=0.8, seed=3)


def test_stepfun_style_messages_are_understood(echo):
    """System turn, a 'human' role, audio split into parts before the text: StepFun's client does this."""
    server, adapter = echo
    message = {"role": "human", "content": [audio_part(np.zeros(16_000, np.float32), 16_000),
                                            audio_part(np.zeros(8_000, np.float32), 16_000),
                                            {"type": "text", "text": "Transcribe."}]}
    status, reply = post(server.base_url, {"model": "x", "messages": [{"role": "system", "content": "Be nice."}, message]})
    assert status == 200 and reply["choices"][0]["message"]["content"] == "Transcribe.|24000|float32"
    assert adapter.batches[-1][0].system == "Be nice."  # the system turn reaches the adapter, not dropped


def test_concurrent_requests_are_answered_in_batches(echo):
    server, adapter = echo
    results: list[str] = []

    def one(i: int) -> None:
        results.append(post(server.base_url, body(prompt=f"p{i}"))[1]["choices"][0]["message"]["content"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted(f"p{i}|16000|float32" for i in range(6))
    assert max(len(b) for b in adapter.batches) > 1
    assert sum(len(b) for b in adapter.batches) == 6


def test_protocol_errors_are_answered_not_crashed(echo):
    server, _ = echo
    status, reply = post(server.base_url, {"model": "x", "messages": [{"role": "user", "content": "no audio here"}]})
    assert status == 400 and "no audio" in reply["error"]["message"]
    bad = body()
    bad["messages"][0]["content"][1]["input_audio"]["data"] = "not base64!"
    assert post(server.base_url, bad)[0] == 400
    assert post(server.base_url, body(max_tokens=0))[0] == 400
    with urllib.request.urlopen(server.base_url + "/models", timeout=10) as response:
        assert json.loads(response.read())["data"][0]["id"] == "echo-model"
    with urllib.request.urlopen(server.base_url.replace("/v1", "/health"), timeout=10) as response:
        assert response.status == 200
    status, _ = post(server.base_url, body())
    assert status == 200  # the server still answers after the errors


class Slow(TextAdapter):
    """Answers after 0.1 s, counting the calls in flight and the threads that made them."""

    name = "slow"
    sample_rate = 16_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def generate(self, requests, decoding):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.batches.append(len(requests))
            self.threads.add(threading.current_thread().name)
        time.sleep(0.1)
        with self.lock:
            self.in_flight -= 1
        return [f"{r.prompt}|{r.audio.size}" for r in requests]


def test_unbatched_requests_are_answered_in_their_own_threads_at_most_workers_at_once():
    adapter = Slow()
    server = ModelServer(adapter, "m", port=0, max_batch=1, batch_wait_ms=0, workers=2).start()
    try:
        assert not [t for t in threading.enumerate() if t.name.startswith("sseu-batcher")]  # nothing to gather
        results: list[str] = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            post(server.base_url, body(prompt=f"p{i}"))[1]["choices"][0]["message"]["content"])) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.close()
    assert sorted(results) == sorted(f"p{i}|16000" for i in range(6))
    assert adapter.batches == [1] * 6 and adapter.max_in_flight == 2  # --workers bounds the calls at once
    assert not any(name.startswith("sseu-batcher") for name in adapter.threads)


def test_model_failures_and_class_scores_are_500s():
    for adapter, message in ((Echo(fail=True), "the model fell over"), (Scores(), "serve only text models")):
        server = ModelServer(adapter, "m", port=0).start()
        try:
            status, reply = post(server.base_url, body())
            assert status == 500 and message in reply["error"]["message"]
        finally:
            server.close()


def test_an_api_key_can_be_required():
    server = ModelServer(Echo(), "m", port=0, api_key="k-123").start()
    try:
        assert post(server.base_url, body())[0] == 401
        assert post(server.base_url, body(), {"Authorization": "Bearer k-123"})[0] == 200
    finally:
        server.close()


def test_the_openai_adapter_speaks_to_it(echo):
    server, _ = echo
    adapter = OpenAIChatAdapter(base_url=server.base_url, api_model="echo-model", max_retries=0)
    audio = np.zeros(12_345, np.float32)
    assert adapter.answer([Request(None, audio, "hi", "ASC", "independent", 0)]) == ["hi|12345|float32"]  # type: ignore[arg-type]


SERVER_SIDE = [*sorted((REPO / "model_adapters").rglob("*.py")), *sorted((REPO / "model_server").rglob("*.py")),
               *(REPO / "sseu_harness" / name for name in ("__init__.py", "adapter.py", "errors.py", "dataset/__init__.py",
                                                           "dataset/manifest.py", "models/__init__.py", "models/resolve.py",
                                                           "models/settings.py", "spec/__init__.py", "spec/snr.py",
                                                           "spec/taxonomy.py"))]


@pytest.mark.parametrize("path", SERVER_SIDE, ids=lambda p: str(p.relative_to(REPO)))
def test_the_server_side_code_parses_as_python_3_10(path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))


def test_the_server_refuses_an_unknown_model_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "model_adapters.serve.openai_server", "--model", "kimi-audio",
                           "--port", "0"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: model kimi-audio needs package kimia_infer: git clone")
    assert "Traceback" not in proc.stderr


def test_the_ltu_as_server_names_a_repo_without_templates_in_one_line(tmp_path):
    """Started from anywhere, the LTU-AS server reads templates from `repo`; a wrong `repo` is named, exit 2."""
    (tmp_path / "ltuas.bin").write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "model_adapters.serve.openai_server", "--model", "ltu-as",
                           "--model-path", str(tmp_path / "ltuas.bin"), "--set", f"repo={tmp_path}", "--port", "0"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: model ltu-as: {tmp_path.resolve()}/templates/alpaca_short.json does not exist: set repo to the "
        "src/ltu_as folder of a clone of https://github.com/YuanGongND/ltu (it holds templates/), or prompt_template to one "
        "of its templates")
    assert "Traceback" not in proc.stderr


def test_base64_helper_round_trips():
    audio = (np.arange(-5, 5) / 32768).astype(np.float32)
    from model_adapters.utils.audio import read_wav

    decoded, rate = read_wav(base64.b64decode(wav_base64(audio, 16_000)))
    assert rate == 16_000 and np.array_equal(decoded, audio)
    assert Path(__file__).name.startswith("test_adapter_")


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT", "PCM_U8"])
def test_wav_decoding_gives_libsndfiles_samples(subtype, channels):
    """16-bit PCM takes the server's own fast reader, the rest soundfile: both give what libsndfile reads."""
    import io

    import soundfile as sf

    from model_adapters.utils.audio import read_wav

    rng = np.random.default_rng(channels)
    audio = np.clip(rng.standard_normal((4_000, channels)) * 0.4, -1, 1).astype(np.float32)
    audio[:4, 0] = [-1.0, 1.0, 0.5 / 32767, -0.5 / 32767]  # the ends of the scale and rounding ties
    buffer = io.BytesIO()
    sf.write(buffer, audio, 22_050, format="WAV", subtype=subtype)
    reference, rate = sf.read(io.BytesIO(buffer.getvalue()), dtype="float32", always_2d=True)
    decoded, decoded_rate = read_wav(buffer.getvalue())
    assert decoded_rate == rate == 22_050 and decoded.dtype == np.float32
    assert np.array_equal(decoded, reference.mean(axis=1).astype(np.float32))


def test_a_truncated_or_foreign_file_is_left_to_soundfile():
    import io

    import soundfile as sf

    from model_adapters.utils.audio import read_wav, wav_bytes

    whole = wav_bytes(np.linspace(-0.5, 0.5, 1_001, dtype=np.float32), 16_000)
    cut = whole[:-1]  # half a sample short
    reference, _ = sf.read(io.BytesIO(cut), dtype="float32", always_2d=True)
    assert np.array_equal(read_wav(cut)[0], reference[:, 0])
    with pytest.raises(sf.LibsndfileError):
        read_wav(b"RIFF....WAVEnot audio")


def test_the_key_is_checked_before_the_body_is_read_and_in_constant_time(monkeypatch):
    import socket

    from model_server import openai_server

    compared = []
    real = openai_server.hmac.compare_digest
    monkeypatch.setattr(openai_server.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    server = ModelServer(Echo(), "m", port=0, api_key="k-123").start()
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            # promises 50 MB and sends none of it: a server reading the body first would wait forever
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
            reply = sock.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 401") and "Connection: close" in reply
        assert compared == [1]
        assert post(server.base_url, body(), {"Authorization": "Bearer k-123"})[0] == 200
    finally:
        server.close()


# --- the served configuration: part of the store key and the report (issue 20) ------------------------------


class Tagged(TextAdapter):
    """A served model whose answers follow a server-side setting (as LTU-AS's eval_mode): no request carries it."""

    name = "tagged"
    sample_rate = 16_000

    def __init__(self, tag: str, weights: str | None = None) -> None:
        self.values = {"tag": tag, "model": weights, "device": "cpu"}
        self.settings = {"tag": tag}
        self.asked = 0

    def generate(self, requests, decoding):
        self.asked += len(requests)
        return [f"Scene: {'home' if self.settings['tag'] == 'a' else 'city center'}" for _ in requests]


def get(url: str, headers: dict | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def fingerprint(path: Path) -> str:
    """A small file's fingerprint by hand: its size, then its bytes (all within the first MiB)."""
    data = path.read_bytes()
    assert len(data) <= 1 << 20
    return hashlib.sha256(str(len(data)).encode() + data).hexdigest()[:16]


def test_the_server_reports_its_adapters_class_settings_and_weights(tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"0123456789")
    server = ModelServer(Tagged("a", str(weights)), "tagged", port=0, api_key="k-123").start()
    try:
        assert get(server.base_url + "/sseu/identity")[0] == 401  # behind the key, like /v1/models
        status, got = get(server.base_url + "/sseu/identity", {"Authorization": "Bearer k-123"})
        assert status == 200
        assert got == {"adapter": f"{Tagged.__module__}.Tagged", "name": "tagged", "served_name": "tagged",
                       "sample_rate": 16_000, "settings": {"tag": "a"}, "files": {"model": fingerprint(weights)}}
        client = served_identity("ltu-as", server.base_url, "tagged", "k-123")
        assert client == {"reported_by": "sseu model server", **got}
    finally:
        server.close()


def test_a_server_without_the_route_is_known_by_its_model_listing_and_says_so():
    listed = [{"id": "qwen2-audio", "object": "model", "owned_by": "vllm", "root": "/models/Qwen2-Audio",
               "parent": None, "max_model_len": 8192, "permission": [{"id": "modelperm-1"}]}]
    with ChatServer(models=listed) as vllm, ChatServer() as bare:
        first = served_identity("openai", vllm.base_url, "qwen2-audio", None)
        time.sleep(0.01)
        assert served_identity("openai", vllm.base_url, "qwen2-audio", None) == first  # `created` is left out
        assert first == {"reported_by": "/v1/models", "unknown": ONLY_THE_LISTING, "model": {
            "id": "qwen2-audio", "owned_by": "vllm", "root": "/models/Qwen2-Audio", "max_model_len": 8192}}
        with pytest.raises(ConfigError, match=r"serves qwen2-audio, not 'qwen-typo': set api_model"):
            served_identity("openai", vllm.base_url, "qwen-typo", None)
        assert served_identity("openai", bare.base_url, "x", None) == {"reported_by": None, "unknown": NOTHING}
        with pytest.raises(ConfigError, match="the replicas serve different configurations"):
            served_identity("openai", f"{vllm.base_url},{bare.base_url}", "qwen2-audio", None)
        url = bare.base_url
    with pytest.raises(ConfigError, match=rf"cannot ask {re.escape(url)}/sseu/identity what it serves .*must be up"):
        served_identity("openai", url, "x", None)


def test_a_server_restarted_in_another_configuration_is_asked_again(tmp_path):
    """The store key holds the served configuration: the rerun after a restart on the same port asks the model."""
    first = ModelServer(Tagged("a"), "tagged", port=0, max_batch=1).start()
    args = ("--sseu-model=openai", f"--sseu-base-url={first.base_url}", "--sseu-api-model=tagged", "--sseu-snrs=0",
            "--sseu-modes=independent", "--sseu-tasks=ASC", "--sseu-no-hearing-check",
            f"--sseu-cache-dir={tmp_path / 'c'}")
    try:
        for run in ("a", "b"):
            proc = run_pytest(*args, f"--sseu-report-dir={tmp_path / run}")
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert first.adapter.asked == DEMO_ITEMS  # the unchanged server's rerun came from the store
        assert summary(tmp_path / "b")["records"][0]["from_store"] == DEMO_ITEMS
    finally:
        first.close()
    second = ModelServer(Tagged("b"), "tagged", port=first.port, max_batch=1).start()
    try:
        proc = run_pytest(*args, f"--sseu-report-dir={tmp_path / 'c'}")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    finally:
        second.close()
    assert second.adapter.asked == DEMO_ITEMS
    report = summary(tmp_path / "c")
    assert report["records"][0]["from_store"] == 0
    assert report["meta"]["models"]["openai"]["server"]["settings"] == {"tag": "b"}
    assert summary(tmp_path / "a")["meta"]["models"]["openai"]["server"]["settings"] == {"tag": "a"}


def test_a_served_model_whose_server_is_down_is_a_usage_error_before_any_case(tmp_path):
    server = ModelServer(Echo(), "m", port=0).start()
    url = server.base_url
    server.close()  # nothing listens there now
    proc = run_pytest("--sseu-model=ltu-as", f"--sseu-base-url={url}", "--sseu-snrs=0",
                      f"--sseu-report-dir={tmp_path / 'r'}")
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"model ltu-as: cannot ask {url}/sseu/identity what it serves" in proc.stderr
    assert "Start it with: python -m model_adapters.serve.openai_server --model ltu-as" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and not (tmp_path / "r").exists()
