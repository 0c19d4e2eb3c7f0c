"""A model server that misbehaves (issue 23): no hang, no cascade, no leaked key, no glitch frozen into the store.

Each test runs the `openai` adapter, or a real session through it, against the loopback fault server
(`tests/helpers/chat_server.py`) with one fault; timeouts are short so that the tests stay quick.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from model_adapters.openai_compatible.adapter import OpenAIChatAdapter
from model_adapters.utils.openai_chat import REFUSAL_ANSWER, EndpointError, EndpointGaveUp
from model_adapters.families.text import TextAdapter
from sseu_harness.errors import ConfigError
from sseu_harness.scoring.parser import parse_answer
from tests.helpers.chat_server import ChatServer, Step
from tests.helpers.session_runner import DEMO_ITEMS, run_pytest, summary
from tests.sessions.test_adapter_openai import make, req

ASC = ("--sseu-model=openai", "--sseu-api-model=test-audio", "--sseu-snrs=0", "--sseu-modes=independent",
       "--sseu-tasks=ASC")
PARTS = [{"type": "text", "text": "Scene: "}, {"type": "text", "text": "home"}]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SSEU_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with ChatServer() as srv:
        yield srv


def rows(report) -> list[dict]:
    return [json.loads(line) for line in (report / "predictions.jsonl").read_text().splitlines()]


# --- 1. content that is not a string; a store that cannot be written --------------------------------


def test_content_as_text_parts_is_joined_and_any_other_type_is_a_failure(server):
    adapter = make(server, max_retries=0)
    server.script = [Step(content=PARTS), Step(content=[{"type": "text", "text": "a"}, {"type": "image_url"},
                                                        {"type": "text", "text": "b"}])]
    assert adapter.answer([req()]) == ["Scene: home"]
    assert adapter.answer([req()]) == ["ab"]
    for content, kind in ((7, "int"), ({"text": "home"}, "dict")):
        server.script = [Step(content=content)]
        with pytest.raises(EndpointError, match=f"answered content of type {kind}, not text"):
            adapter.answer([req()])
    server.script = [Step(content=[{"type": "image_url"}])]
    with pytest.raises(EndpointError, match="content parts without text"):
        adapter.answer([req()])


def test_a_session_whose_server_answers_numbers_and_parts_ends_and_counts_them(server, tmp_path):
    server.script = [Step(content=7), Step(content=PARTS), Step(content=3.5), Step(content=PARTS)]
    proc = run_pytest(*ASC, f"--sseu-base-url={server.base_url}", "--sseu-model-set=max_retries=0",
                      "--sseu-max-error-rate=1", f"--sseu-report-dir={tmp_path}", timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (record,) = [r for r in summary(tmp_path)["records"] if "case" in r]
    assert record["errors"] == 2 and record["n"] == DEMO_ITEMS
    got = rows(tmp_path)
    assert sorted(r["failure"] for r in got if r["failure"])[0].startswith("error: EndpointError: openai at")
    assert sum("content of type" in (r["failure"] or "") for r in got) == 2
    assert len(server.seen) == DEMO_ITEMS


# --- 2. a stalled call must not hold its slot ---------------------------------------------------------


def test_calls_abandoned_at_the_timeout_free_their_slots(tmp_path):
    with ChatServer() as server:
        server.script = [Step(delay=6.0)] * 8  # the first 8 requests stall, the server is healthy afterwards
        proc = run_pytest(*ASC, f"--sseu-base-url={server.base_url}", "--sseu-timeout=1", "--sseu-max-error-rate=1",
                          f"--sseu-report-dir={tmp_path}", timeout=180)
        assert proc.returncode == 0, proc.stdout[-3000:]
        (record,) = [r for r in summary(tmp_path)["records"] if "case" in r]
        assert record["errors"] == 8  # the stalled ones only
        assert len(server.seen) == DEMO_ITEMS  # each clip asked once: no attempt after the call's limit


def test_no_attempt_or_backoff_runs_past_the_call_limit(server):
    server.script = [Step(status=503, headers={"retry-after": "3"})]
    adapter = make(server, max_retries=5)
    adapter.call_timeout = 1.0
    started = time.monotonic()
    with pytest.raises(EndpointError, match=r"no answer within the call's time limit \(--sseu-timeout\)"):
        adapter.answer([req()])
    assert time.monotonic() - started < 1.0 and len(server.seen) == 1
    server.script = [Step(delay=3.0)]
    started = time.monotonic()
    with pytest.raises(EndpointError):
        adapter.answer([req()])
    assert time.monotonic() - started < 1.5
    assert adapter.client.replicas[0].in_flight == 0  # its slot is free


def test_step_audio2_behind_an_endpoint_keeps_the_call_limit(server):
    from model_adapters.step_audio2.adapter import StepAudio2Adapter

    adapter = StepAudio2Adapter(base_url=server.base_url, max_retries=5)
    adapter.call_timeout = 1.0  # set by the pipeline on the outer adapter; the inner client must keep it
    server.script = [Step(delay=3.0)]
    started = time.monotonic()
    with pytest.raises(EndpointError):
        adapter.answer([req()])
    assert time.monotonic() - started < 1.5
    adapter.close()


# --- 3. a key cut at the edge of an error body --------------------------------------------------------


def test_a_key_cut_by_the_error_body_limit_never_leaks(tmp_path, monkeypatch):
    key = "sk-proj-" + "Zq7" * 52  # 164 characters, as the issue's
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with ChatServer() as server:
        # '{"error": {"message": "' is 23 characters: the key starts at 383 of the body and the 500-byte cut
        # leaves 117 of it, of which the reason (cut at 500 characters after its ~85-character head) keeps ~30
        server.fallback = Step(status=500, error_body="x" * 360 + key)
        proc = run_pytest(*ASC, f"--sseu-base-url={server.base_url}", "--sseu-model-set=max_retries=0",
                          "--sseu-max-error-rate=1", f"--sseu-report-dir={tmp_path / 'r'}",
                          f"--sseu-cache-dir={tmp_path / 'c'}", timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all(r["failure"].startswith("error: EndpointError: openai at") for r in rows(tmp_path / "r"))
    head = key[:8].encode()
    for path in [p for p in tmp_path.rglob("*") if p.is_file()]:
        assert head not in path.read_bytes(), path
    assert key[:8] not in proc.stdout + proc.stderr


# --- 4. the circuit breaker: a killed server, a silent one -------------------------------------------


def test_a_killed_server_fails_the_rest_at_once_and_a_rerun_resumes(tmp_path):
    args = ("--sseu-model=openai", "--sseu-api-model=test-audio", "--sseu-snrs=0", "--sseu-modes=independent",
            f"--sseu-cache-dir={tmp_path / 'c'}")
    server = ChatServer(delay=0.05)
    port = server.port

    def kill_after(n: int) -> None:
        while len(server.seen) < n:
            time.sleep(0.01)
        server.kill()

    threading.Thread(target=kill_after, args=(20,), daemon=True).start()
    started = time.monotonic()
    proc = run_pytest(*args, f"--sseu-base-url={server.base_url}", f"--sseu-report-dir={tmp_path / 'a'}", timeout=120)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert "gave up on openai at http://127.0.0.1" in proc.stdout and "10 requests in a row" in proc.stdout
    assert elapsed < 45  # without the breaker: about 15 s of retries per remaining clip
    with sqlite3.connect(tmp_path / "c" / "predictions.sqlite") as conn:
        stored = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    assert 0 < stored <= 20  # the answers given before the kill are kept
    with ChatServer(port=port) as again:  # the same URL: the same store keys
        rerun = run_pytest(*args, f"--sseu-base-url={again.base_url}", f"--sseu-report-dir={tmp_path / 'b'}")
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        assert len(again.seen) == 3 * DEMO_ITEMS - stored  # exactly what is missing


def test_a_silent_server_is_given_up_on(tmp_path):
    with ChatServer() as server:
        server.fallback = Step(delay=30.0)  # accepts, reads, never answers
        started = time.monotonic()
        proc = run_pytest(*ASC[:-1], f"--sseu-base-url={server.base_url}", "--sseu-model-set=timeout=0.5",
                          f"--sseu-report-dir={tmp_path}", timeout=120)
        elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert "gave up on openai" in proc.stdout and "could not connect or timed out" in proc.stdout
    assert elapsed < 40
    assert len(server.seen) < 3 * DEMO_ITEMS


# --- 5. empty answers ---------------------------------------------------------------------------------


def test_null_content_is_retried_a_refusal_counts_and_an_answer_cut_before_any_text_fails(server):
    adapter = make(server, max_retries=2)
    server.script = [Step(content=None), Step(content=None)]
    assert adapter.answer([req()])[0].startswith("Transcript:") and len(server.seen) == 3
    server.script = [Step(content=None)] * 3
    with pytest.raises(EndpointError, match=r"content: null"):
        adapter.answer([req()])
    server.script = [Step(content=None, refusal="I'm sorry, I cannot assist with that request.")]
    assert adapter.answer([req()]) == [REFUSAL_ANSWER]
    server.script = [Step(content="", finish_reason="length")]
    before = len(server.seen)
    with pytest.raises(EndpointError, match=r"finish_reason 'length'\) before any answer text: raise max_new_tokens"):
        adapter.answer([req()])
    assert len(server.seen) == before + 1  # not retried: the same budget gives the same cut
    server.script = [Step(content="")]
    assert adapter.answer([req()]) == [""]  # the model said nothing: an answer (a parse failure), stored


@pytest.mark.parametrize("task, mode", [("ASR", "independent"), ("ASC", "independent"), ("AT", "independent"),
                                        ("ASR", "joint"), ("ASC", "cot")])
def test_the_refusal_answer_is_parsed_as_a_refusal(task, mode):
    parsed = parse_answer(REFUSAL_ANSWER, task, mode)
    assert parsed.refused and parsed.failure is None


def test_null_content_is_not_stored_and_a_healthy_rerun_asks_for_it(tmp_path):
    cache = f"--sseu-cache-dir={tmp_path / 'c'}"
    with ChatServer() as server:
        server.script = [Step(content=None)] * 3
        first = run_pytest(*ASC, f"--sseu-base-url={server.base_url}", "--sseu-model-set=max_retries=0",
                           "--sseu-max-error-rate=1", cache, f"--sseu-report-dir={tmp_path / 'a'}")
        assert first.returncode == 0, first.stdout[-3000:]
        (record,) = [r for r in summary(tmp_path / "a")["records"] if "case" in r]
        assert record["errors"] == 3
        before = len(server.seen)
        rerun = run_pytest(*ASC, f"--sseu-base-url={server.base_url}", cache, f"--sseu-report-dir={tmp_path / 'b'}")
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        assert len(server.seen) - before == 3


# --- 6. smaller -----------------------------------------------------------------------------------------


def test_failing_over_to_another_replica_is_not_a_retry(server):
    dead = "http://127.0.0.1:9/v1"
    adapter = make(server, base_url=f"{dead},{server.base_url}", max_retries=0, concurrency=1)
    assert all(a.startswith("Transcript:") for a in adapter.answer([req() for _ in range(4)]))
    assert len(server.seen) == 4


def test_a_post_is_never_resent_silently_on_a_reused_connection(server):
    adapter = make(server, max_retries=0, concurrency=1)
    adapter.answer([req()])
    server.script = [Step(drop="close")]  # read on the kept-alive connection, then closed without an answer
    with pytest.raises(EndpointError, match="cannot reach openai"):
        adapter.answer([req()])
    assert len(server.seen) == 2
    assert adapter.answer([req()])[0].startswith("Transcript:") and len(server.seen) == 3


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1", "http://127.0.0.1:abc/v1", "http://[::1/v1",
                                 "127.0.0.1:8000/v1"])
def test_a_malformed_base_url_is_a_usage_error(url):
    with pytest.raises(ConfigError, match="base URL"):
        OpenAIChatAdapter.check_settings({"base_url": url, "api_model": "m"})


def test_a_malformed_base_url_stops_the_session_with_exit_4(tmp_path):
    proc = run_pytest(*ASC, "--sseu-base-url=http://127.0.0.1:99999/v1", f"--sseu-report-dir={tmp_path}")
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    assert "http://127.0.0.1:99999/v1" in proc.stdout + proc.stderr


def test_the_breaker_is_a_setting_and_trips_on_consecutive_failures_only(server):
    adapter = OpenAIChatAdapter(base_url="http://127.0.0.1:9/v1", api_model="m", max_retries=0, give_up_after=3)
    for _ in range(3):
        with pytest.raises(EndpointError) as info:
            adapter.answer([req()])
        assert not isinstance(info.value, EndpointGaveUp)
    with pytest.raises(EndpointGaveUp, match="3 requests in a row"):
        adapter.answer([req()])
    with pytest.raises(ConfigError, match="give_up_after must be >= 0"):
        OpenAIChatAdapter(base_url=server.base_url, api_model="m", give_up_after=-1)


# --- issue 20, point 10: a slow served model is not asked twice -----------------------------------------


class SlowCoT(TextAdapter):
    """A stand-in for a model that generates clip by clip (Kimi-Audio, LTU-AS): `seconds` per clip."""

    name = "slow-cot"
    batch_size = 1

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def generate(self, requests, decoding):
        time.sleep(self.seconds * len(requests))
        with self.lock:
            self.asked += [r.prompt for r in requests]
        return [f"Scene: home ({r.prompt})" for r in requests]


def test_a_slow_clip_by_clip_model_behind_the_wrapper_is_asked_each_clip_once(monkeypatch):
    """8 CoT requests in flight to a model taking 3 s per clip, time scaled by 1/10 (0.3 s per clip, and a
    client that assumes the model's speed: 1024 tokens in 0.3 s): each answered when its own generation
    ends, none sent twice."""
    from model_adapters.families import served
    from model_server.openai_server import ModelServer

    monkeypatch.setattr(served, "ATTEMPT_BASE_S", 1.5)
    monkeypatch.setattr(served, "ASSUMED_TOKENS_PER_S", 1024 / 0.3)
    model = SlowCoT(0.3)
    server = ModelServer(model, "slow", port=0).start()  # the wrapper's defaults
    try:
        adapter = OpenAIChatAdapter(base_url=server.base_url, api_model="slow", concurrency=8)
        prompts = [f"clip {k}" for k in range(16)]
        answers = adapter.answer([req(p, mode="cot") for p in prompts])
    finally:
        server.close()
    assert answers == [f"Scene: home ({p})" for p in prompts]
    assert sorted(model.asked) == sorted(prompts)  # each generated once: no attempt outlived its time limit
    assert set(server.batcher.batches) == {1}  # each request answered as its own generation ended
    assert served.attempt_timeout(1024, 8) == pytest.approx(1.5 + 8 * 0.3)


def test_the_default_attempt_limit_follows_the_token_budget_and_fits_the_call_limit():
    from model_adapters.families.served import attempt_timeout

    assert attempt_timeout(256, 8) == 124.0 and attempt_timeout(1024, 8) == 316.0
    assert attempt_timeout(1024, 8) < 600  # --sseu-timeout's default: one whole attempt fits a call


def test_every_named_fault_of_the_command_line_is_answered_as_described():
    from tests.helpers.chat_server import FAULTS

    with ChatServer() as server:
        server.fallback, server.every = FAULTS["number"], 2
        adapter = make(server, max_retries=0, concurrency=1)
        outcomes = []
        for _ in range(4):
            try:
                outcomes.append(adapter.answer([req()])[0][:11])
            except EndpointError as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes == ["Transcript:", "EndpointError", "Transcript:", "EndpointError"]  # requests 2 and 4
