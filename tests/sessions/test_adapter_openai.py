"""`openai` against a loopback chat-completions server: payload, key handling, retries, concurrency, a session."""

from __future__ import annotations

import base64
import dataclasses
import io
import json

import numpy as np
import pytest
import soundfile as sf

from model_adapters.openai_compatible.adapter import OpenAIChatAdapter
from model_adapters.utils.openai_chat import EndpointError
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from tests.helpers.chat_server import ChatServer, Step, default_answer
from tests.helpers.session_runner import DEMO_ITEMS, by_key, run_pytest, summary

KEY = "sk-test-0123456789abcdef-SECRET"


@pytest.fixture
def server():
    with ChatServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SSEU_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)


def make(server: ChatServer, **settings) -> OpenAIChatAdapter:
    return OpenAIChatAdapter(**{"base_url": server.base_url, "api_model": "test-audio", "max_retries": 2,
                                "timeout": 10, **settings})


def clip(seconds: float = 1.5, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def req(prompt: str = "Which scene?", mode: str = "independent", seed: int = 0, audio=None) -> Request:
    return Request(None, clip() if audio is None else audio, prompt, "ASC" if mode == "independent" else None, mode, seed)  # type: ignore[arg-type]


def audio_of(part: dict) -> tuple[np.ndarray, int, str]:
    data = base64.b64decode(part["input_audio"]["data"])
    info = sf.info(io.BytesIO(data))
    audio, rate = sf.read(io.BytesIO(data), dtype="float32")
    return audio, rate, info.subtype


def test_payload_carries_wav_at_the_rate_the_prompt_and_greedy_decoding(server):
    adapter = make(server)
    answers = adapter.answer([req("Which scene?")])
    (seen,) = server.seen
    assert answers == [default_answer(seen.body)] and answers[0].startswith("Transcript: the birch canoe\nScene: home\nEvents: dog; ")
    assert seen.path == "/v1/chat/completions"
    body = seen.body
    assert body["model"] == "test-audio"
    assert body["temperature"] == 0 and body["max_tokens"] == 256
    assert "seed" not in body and "modalities" not in body and "top_p" not in body
    (message,) = body["messages"]
    assert message["role"] == "user"
    text, audio_part = message["content"]
    assert text == {"type": "text", "text": "Which scene?"}
    assert audio_part["type"] == "input_audio" and audio_part["input_audio"]["format"] == "wav"
    audio, rate, subtype = audio_of(audio_part)
    assert rate == 16_000 and subtype == "PCM_16" and audio.ndim == 1
    np.testing.assert_allclose(audio, clip(), atol=1 / 32_000)


def test_mode_budgets_sampling_seed_and_optional_fields(server):
    adapter = make(server, temperature=0.7, top_p=0.9, max_new_tokens={"cot": 900}, modalities=["text"],
                   max_tokens_field="max_completion_tokens", system_prompt="Be terse.",
                   extra_body={"top_k": 5}, sample_rate=24_000, audio_first=True)
    assert not adapter.deterministic and adapter.sample_rate == 24_000
    adapter.answer([req(mode="cot", seed=11, audio=clip(rate=24_000))])
    body = server.seen[-1].body
    assert body["max_completion_tokens"] == 900 and "max_tokens" not in body
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9 and body["seed"] == 11
    assert body["modalities"] == ["text"] and body["top_k"] == 5
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["input_audio", "text"]
    assert audio_of(parts[0])[1] == 24_000


def test_long_clips_can_be_cut_and_chunked(server):
    adapter = make(server, max_audio_seconds=2.5, audio_chunk_seconds=1.0, user_role="human")
    adapter.answer([req(audio=clip(seconds=4.0))])
    message = server.seen[-1].body["messages"][0]
    assert message["role"] == "human"
    chunks = [audio_of(p)[0] for p in message["content"] if p["type"] == "input_audio"]
    assert [c.size for c in chunks] == [16_000, 16_000, 8_000]
    np.testing.assert_allclose(np.concatenate(chunks), clip(seconds=4.0)[:40_000], atol=1 / 32_000)


def test_the_body_sent_is_the_json_of_the_request_written_out(server):
    """Checked against json.dumps of the body built here by hand (the adapter splices its audio in as bytes)."""
    adapter = make(server)
    request = req('Which "scene"? \\ über')
    adapter.answer([adapter.prepare_request(request)])
    wav = io.BytesIO()
    sf.write(wav, clip(), 16_000, format="WAV", subtype="PCM_16")
    expected = {"model": "test-audio", "messages": [{"role": "user", "content": [
        {"type": "text", "text": 'Which "scene"? \\ über'},
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav.getvalue()).decode(), "format": "wav"}}]}],
        "temperature": 0.0, "max_tokens": 256}
    assert server.seen[-1].raw == json.dumps(expected, separators=(",", ":")).encode()


@pytest.mark.parametrize("settings, prompt, mode", [
    ({}, "Which scene?", "independent"),
    ({"audio_chunk_seconds": 0.5, "audio_first": True, "system_prompt": "Be terse.", "extra_body": {"top_k": 5},
      "modalities": ["text"]}, "Events?", "joint"),
    ({"temperature": 0.7, "top_p": 0.9, "wav_subtype": "FLOAT", "max_tokens_field": "max_completion_tokens"},
     "Think.", "cot"),
    ({}, "a prompt that holds the splice mark \x00sseu-audio\x00", "independent"),
])
def test_a_body_prepared_ahead_is_byte_for_byte_the_one_built_at_the_call(server, settings, prompt, mode):
    adapter = make(server, **settings)
    request = req(prompt, mode=mode, seed=5)
    adapter.answer([adapter.prepare_request(request)])
    adapter.answer([request])
    prepared, plain = server.seen
    assert prepared.raw == plain.raw and prepared.body["messages"][-1]["content"]
    assert prepared.raw.count(b'"input_audio":{"data":"') == (3 if "audio_chunk_seconds" in settings else 1)


def test_a_prepared_body_is_not_sent_with_another_decoding(server):
    adapter = make(server)
    prepared = adapter.prepare_request(req())
    adapter.generate([prepared], dataclasses.replace(adapter.decoding_for("independent", 0), max_new_tokens=7))
    assert server.seen[-1].body["max_tokens"] == 7


def test_the_key_travels_only_in_the_authorization_header(server, monkeypatch):
    monkeypatch.setenv("SSEU_TEST_KEY", KEY)
    adapter = make(server, api_key_env="SSEU_TEST_KEY")
    adapter.answer([req(), req("Events?")])
    for seen in server.seen:
        assert seen.headers["authorization"] == f"Bearer {KEY}"
        assert [k for k, v in seen.headers.items() if KEY in v] == ["authorization"]
        assert KEY.encode() not in seen.raw
    for text in (repr(adapter), repr(adapter.client), json.dumps(adapter.settings),
                 json.dumps(OpenAIChatAdapter.identity({"base_url": server.base_url, "api_model": "m",
                                                        "api_key_env": "SSEU_TEST_KEY"}))):
        assert KEY not in text
    assert adapter.settings["base_url"] == server.base_url and "api_key_env" not in adapter.settings


def test_a_refused_key_is_a_config_error_without_the_key(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.script = [Step(status=401)]
    adapter = make(server)
    with pytest.raises(ConfigError) as info:
        adapter.answer([req()])
    assert "refused the API key (HTTP 401)" in str(info.value)
    assert KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None  # openai's exception holds the request


def test_secrets_are_never_settings():
    with pytest.raises(ConfigError, match="'api_key' looks like a secret"):
        OpenAIChatAdapter(base_url="http://127.0.0.1:9/v1", api_model="m", api_key=KEY)


def test_429_5xx_and_timeouts_are_retried_with_backoff(server):
    server.script = [Step(status=429, headers={"retry-after-ms": "5"}), Step(status=503, headers={"retry-after-ms": "5"}),
                     Step(delay=1.5)]
    adapter = make(server, timeout=0.5, max_retries=3)
    assert adapter.answer([req()])[0].startswith("Transcript:")
    assert len(server.seen) == 4  # 429, 503, timed out, answered


def test_retries_run_out_with_a_clear_error(server):
    server.script = [Step(status=500, headers={"retry-after-ms": "1"})] * 3
    adapter = make(server, max_retries=2)
    with pytest.raises(EndpointError, match=r"failed after 2 retries"):
        adapter.answer([req()])
    assert len(server.seen) == 3


def test_an_unreachable_endpoint_says_so():
    adapter = OpenAIChatAdapter(base_url="http://127.0.0.1:9/v1", api_model="m", max_retries=0, timeout=2)
    with pytest.raises(EndpointError, match="cannot reach openai at http://127.0.0.1:9/v1"):
        adapter.answer([req()])


def test_requests_run_concurrently_but_bounded_and_answers_keep_their_order():
    with ChatServer(answer=lambda body: body["messages"][0]["content"][0]["text"].upper(), delay=0.15) as server:
        adapter = make(server, concurrency=3)
        prompts = [f"clip {i}" for i in range(12)]
        assert adapter.answer([req(p) for p in prompts]) == [p.upper() for p in prompts]
        assert server.max_in_flight == 3


def test_where_the_endpoint_comes_from(monkeypatch):
    with pytest.raises(ConfigError, match="model openai needs a base URL: --sseu-base-url"):
        OpenAIChatAdapter.check_settings({"api_model": "m"})
    with pytest.raises(ConfigError, match="needs the served model's name: --sseu-api-model"):
        OpenAIChatAdapter.check_settings({"base_url": "http://127.0.0.1:9/v1"})
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1/?token=x")
    monkeypatch.setenv("SSEU_OPENAI_MODEL", "env-model")
    values = OpenAIChatAdapter.resolve({})
    assert values["api_model"] == "env-model"
    assert OpenAIChatAdapter.describe(values)["base_url"] == "http://127.0.0.1:9/v1"  # no credentials, no query
    with pytest.raises(ConfigError, match="needs an API key: set the environment variable OPENAI_API_KEY"):
        OpenAIChatAdapter(base_url="https://api.openai.com/v1", api_model="gpt-4o-audio-preview")


def test_benchmark_session_through_the_endpoint_leaks_no_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # run_pytest passes the environment on
    proc = run_pytest("--sseu-model=openai", f"--sseu-base-url={server.base_url}", "--sseu-api-model=test-audio",
                      "--sseu-snrs=0", "--sseu-modes=independent,joint",
                      f"--sseu-report-dir={tmp_path / 'r'}", f"--sseu-cache-dir={tmp_path / 'c'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = by_key(summary(tmp_path / "r")["records"])
    for task in ("ASR", "ASC", "AT"):
        for mode in ("independent", "joint"):
            rec = records[("openai", task, "snr_0", mode)]
            assert rec["n"] == DEMO_ITEMS and 0 <= rec["value"] <= 100
    assert records[("openai", "ASC", "snr_0", "joint")]["parse_failures"] == 0
    assert len(server.seen) == 4 * DEMO_ITEMS  # 3 independent cases + 1 shared joint answer per clip
    assert all(s.headers["authorization"] == f"Bearer {KEY}" for s in server.seen)
    assert {s.body["max_tokens"] for s in server.seen} == {256}
    for path in [*(tmp_path / "r").rglob("*"), *(tmp_path / "c").rglob("*")]:  # report, store, caches
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in proc.stdout + proc.stderr


# --- several replicas (issue 12) ---------------------------------------------------------------------


def test_requests_go_to_the_least_busy_replica_and_skip_a_dead_one():
    with ChatServer(delay=0.4) as slow, ChatServer() as fast:
        dead = "http://127.0.0.1:9/v1"  # nothing listens: connection refused
        adapter = make(slow, base_url=f"{dead},{slow.base_url},{fast.base_url}", concurrency=4)
        prompts = [f"clip {i}" for i in range(24)]
        answers = adapter.answer([req(p) for p in prompts])
        assert len(answers) == 24 and all(a.startswith("Transcript:") for a in answers)
        assert len(slow.seen) + len(fast.seen) == 24  # every request answered once, none lost on the dead one
        assert 0 < len(slow.seen) < len(fast.seen)  # the slow replica holds its requests: it gets fewer
        (refused,) = [r for r in adapter.client.replicas if r.url == dead]
        assert refused.down_until > 0  # avoided after its refusal
        adapter.close()


def test_adaptive_concurrency_halves_on_429_and_grows_back(server):
    server.script = [Step(status=429, headers={"retry-after-ms": "1"})]
    adaptive = make(server, concurrency=8, adaptive_concurrency=True)
    assert adaptive.answer([req()])[0].startswith("Transcript:")
    (replica,) = adaptive.client.replicas
    assert replica.limit == pytest.approx(4 + 1 / 4)  # halved on the 429, then one answer's worth of growth
    for _ in range(40):
        adaptive.answer([req()])
    assert replica.limit == 8  # back to the ceiling, never above
    server.script = [Step(status=429, headers={"retry-after-ms": "1"})]
    fixed = make(server, concurrency=8)
    fixed.answer([req()])
    assert fixed.client.replicas[0].limit == 8


def test_replicas_as_settings_and_their_identity(monkeypatch):
    from model_adapters.families import served
    from sseu_harness.run.store import answer_key

    stand_in = {"reported_by": "stand-in: no server listens on port 8000 here"}
    monkeypatch.setattr(served, "served_identity", lambda *args: stand_in)
    one = {"base_url": "http://127.0.0.1:8000/v1", "api_model": "m"}
    identity = OpenAIChatAdapter.identity(one)
    assert identity.pop("server") == stand_in  # what the server says it serves (issue 20) is part of the key
    # the rest is the store key of a single-URL configuration that the start commit (ab20c76) wrote
    assert answer_key(identity) == "e90b266a764aa23919f920a8336873a78c1526bfa027253f572bcf4fada60334"
    listed = OpenAIChatAdapter.resolve({"base_url": ["http://a:1/v1", "http://u:p@b:2/v1/"], "api_model": "m"})
    assert listed["base_url"] == "http://a:1/v1,http://u:p@b:2/v1/"
    assert OpenAIChatAdapter.describe(listed)["base_url"] == "http://a:1/v1,http://b:2/v1"  # no credentials
    with pytest.raises(ConfigError, match="base_url must be a URL, a comma list of URLs or a list of URLs"):
        OpenAIChatAdapter.resolve({"base_url": [], "api_model": "m"})


def heard(body: dict) -> str:
    """An answer that depends on the clip (a hearing check sees varied answers)."""
    import zlib

    audio = next(p for p in body["messages"][-1]["content"] if p["type"] == "input_audio")["input_audio"]["data"]
    pick = zlib.crc32(audio.encode()) % 4
    return f"Transcript: the birch canoe {pick}\nScene: home\nEvents: {['dog', 'blender', 'car', 'dishes'][pick]}"


def test_a_session_spreads_over_replicas_given_by_repeating_the_option(tmp_path):
    with ChatServer(answer=heard) as first, ChatServer(answer=heard) as second:
        proc = run_pytest("--sseu-model=openai", f"--sseu-base-url={first.base_url}",
                          f"--sseu-base-url={second.base_url}", "--sseu-api-model=test-audio",
                          "--sseu-model-set=concurrency=4", "--sseu-snrs=0", "--sseu-modes=independent,joint",
                          f"--sseu-report-dir={tmp_path / 'r'}", f"--sseu-cache-dir={tmp_path / 'c'}")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert len(first.seen) + len(second.seen) == 4 * DEMO_ITEMS
        assert first.seen and second.seen
    meta = summary(tmp_path / "r")["meta"]["models"]["openai"]
    assert meta["settings"]["base_url"] == f"{first.base_url},{second.base_url}"


def test_urls_that_plain_http_cannot_serve_go_through_httpx_with_the_same_retries(server, monkeypatch):
    monkeypatch.setenv("SSEU_TEST_KEY", KEY)
    with_credentials = server.base_url.replace("http://", "http://user:pw@")
    server.script = [Step(status=503, headers={"retry-after-ms": "1"})]
    adapter = make(server, base_url=with_credentials, api_key_env="SSEU_TEST_KEY")
    (replica,) = adapter.client.replicas
    assert type(replica.client).__name__ == "Client"  # httpx's, not the keep-alive http.client transport
    assert adapter.answer([req()])[0].startswith("Transcript:")
    assert len(server.seen) == 2  # the 503, then the answer
    server.script = [Step(status=401)]
    with pytest.raises(ConfigError, match=r"refused the API key \(HTTP 401\)") as info:
        adapter.answer([req()])
    assert KEY not in str(info.value) and "pw" not in str(info.value)
    adapter.close()
