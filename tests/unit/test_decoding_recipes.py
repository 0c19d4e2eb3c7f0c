"""``decoding = "model"`` and the sampling settings (issue 20, point 4): each model's own recipe, in-process and served.

The recipes are checked against the values FACTS.md records from each
model's code (commits cited in the adapters); the served ones against the
bodies a loopback chat server receives, and our model server against the
`Decoding` its adapter is handed.
"""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

from model_adapters.families.text import DECODING_SETTINGS, Decoding, Recipe, TextAdapter, decoding_summary
from model_adapters.kimi_audio.adapter import KimiAudioAdapter
from model_adapters.ltu_as.adapter import LtuAsAdapter
from model_adapters.openai_compatible.adapter import OpenAIChatAdapter
from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter
from model_adapters.step_audio2.adapter import StepAudio2Adapter
from model_adapters.utils.audio import wav_base64
from model_adapters.utils.hf_generation import generation_config
from model_server.openai_server import ModelServer
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from tests.helpers.chat_server import ChatServer
from tests.helpers.tiny_models import build_qwen2_audio, cached

RATE = 16_000
# what Qwen2-Audio-7B-Instruct's generation_config.json is reported to hold (FACTS.md); here a tiny model's file
INSTRUCT_DEFAULTS = {"do_sample": True, "temperature": 0.7, "top_p": 0.5, "top_k": 20, "repetition_penalty": 1.1}


def req(prompt: str = "Which scene?", seed: int = 0, system: str | None = None) -> Request:
    audio = (0.1 * np.random.default_rng(seed).standard_normal(RATE)).astype(np.float32)
    return Request(None, audio, prompt, "ASC", "independent", seed, system=system)  # type: ignore[arg-type]


# --- in-process (transformers) ------------------------------------------------------------------------


def test_sampling_keeps_the_top_k_repetition_penalty_and_min_tokens_asked_for():
    config = generation_config(Decoding(max_new_tokens=9, temperature=0.7, top_p=0.5, seed=1, top_k=20,
                                        repetition_penalty=1.1, min_new_tokens=1), None, None)
    assert (config.do_sample, config.temperature, config.top_p, config.top_k) == (True, 0.7, 0.5, 20)
    assert (config.repetition_penalty, config.min_new_tokens, config.max_new_tokens) == (1.1, 1, 9)
    greedy = generation_config(Decoding(max_new_tokens=9), None, None)
    assert (greedy.do_sample, greedy.repetition_penalty, greedy.min_new_tokens) == (False, 1.0, 0)


@pytest.fixture(scope="module")
def instruct_dir(tmp_path_factory):
    return cached(tmp_path_factory, "qwen2-audio-instruct-defaults",
                  lambda f: build_qwen2_audio(f, generation_defaults=INSTRUCT_DEFAULTS))


def test_qwen2_audio_model_decoding_is_read_from_the_loaded_weights(instruct_dir):
    adapter = Qwen2AudioAdapter(model=str(instruct_dir), decoding="model", max_new_tokens=6)
    assert adapter.settings["recipe_values"] == {k: v for k, v in INSTRUCT_DEFAULTS.items() if k != "do_sample"}
    assert adapter.decoding_for("independent", 4) == Decoding(
        max_new_tokens=6, temperature=0.7, top_p=0.5, seed=4, top_k=20, repetition_penalty=1.1)
    assert not adapter.deterministic
    identity = Qwen2AudioAdapter.identity({"model": str(instruct_dir), "decoding": "model", "max_new_tokens": 6})
    assert identity["settings"]["decoding"] == "model" and identity["settings"]["deterministic"] is False
    assert identity["settings"]["recipe"] == "generation_config.json of the loaded weights"
    explicit = Qwen2AudioAdapter(model=str(instruct_dir), max_new_tokens=6, temperature=0.7, top_p=0.5, top_k=20,
                                 repetition_penalty=1.1)
    assert adapter.answer([req(seed=3)]) == explicit.answer([req(seed=3)])
    adapter.close()
    explicit.close()


def test_greedy_stays_the_default_and_its_identity_unchanged():
    values = DECODING_SETTINGS.parse("m", {})
    assert values["decoding"] == "greedy"
    assert decoding_summary(values) == {"max_new_tokens": {"independent": 256, "joint": 256, "cot": 1024},
                                        "temperature": 0.0, "deterministic": True}
    with pytest.raises(ConfigError, match="decoding must be one of greedy, model"):
        DECODING_SETTINGS.parse("m", {"decoding": "paper"})


# --- served (the OpenAI-compatible client) ----------------------------------------------------------


@pytest.fixture
def chat():
    with ChatServer(answer=lambda body: "Scene: cafe") as server:
        yield server


def sent(chat: ChatServer, factory, **settings) -> dict:
    adapter = factory(base_url=chat.base_url, max_retries=0, **settings)
    adapter.answer([req(seed=7)])
    adapter.close()
    return chat.seen[-1].body


def test_vllm_served_model_decoding_sends_no_sampling_field(chat):
    body = sent(chat, OpenAIChatAdapter, api_model="Qwen/Qwen2-Audio-7B-Instruct", decoding="model")
    assert not {"temperature", "top_p", "top_k", "repetition_penalty", "min_tokens"} & set(body)
    assert body["max_tokens"] == 256 and body["seed"] == 7
    settings = OpenAIChatAdapter.identity({"base_url": chat.base_url, "api_model": "m", "decoding": "model"})["settings"]
    assert settings["decoding"] == "model" and "vLLM: the weights' generation_config.json" in settings["recipe"]
    assert settings["deterministic"] is False


def test_sampling_settings_go_out_as_vllms_fields(chat):
    body = sent(chat, OpenAIChatAdapter, api_model="m", temperature=0.5, top_k=40, repetition_penalty=1.2,
                min_new_tokens=2)
    assert (body["temperature"], body["top_k"], body["repetition_penalty"], body["min_tokens"]) == (0.5, 40, 1.2, 2)


@pytest.mark.parametrize("factory, expected", [
    # stepfun-ai/Step-Audio2 7c58630 examples.py
    (StepAudio2Adapter, {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.05, "seed": 7}),
    # MoonshotAI/Kimi-Audio-Evalkit 4080c49 almeval/models/kimi_audio.py
    (KimiAudioAdapter, {"temperature": 0.0, "top_k": 5, "repetition_penalty": 1.1}),
    # YuanGongND/ltu 2002aad src/ltu_as inference scripts
    (LtuAsAdapter, {"temperature": 0.1, "top_p": 0.95, "top_k": 500, "repetition_penalty": 1.1, "seed": 7}),
])
def test_model_decoding_sends_the_models_own_recipe(chat, factory, expected):
    body = sent(chat, factory, decoding="model")
    fields = ("temperature", "top_p", "top_k", "repetition_penalty", "min_tokens", "seed")
    assert {k: body[k] for k in fields if k in body} == expected
    greedy = sent(chat, factory)
    assert {k: greedy[k] for k in fields if k in greedy} == {"temperature": 0.0}


# --- our model server -------------------------------------------------------------------------------


class Recorder(TextAdapter):
    """A served adapter that records the decoding and system turn it is handed."""

    name = "recorder"
    sample_rate = RATE
    takes_system_prompt = True
    RECIPE = Recipe("a test recipe", {"temperature": 0.3, "top_k": 7})
    SETTINGS = DECODING_SETTINGS

    def __init__(self, takes_system_prompt: bool = True, **settings) -> None:
        self.takes_system_prompt = takes_system_prompt
        self.setup_decoding(self.SETTINGS.parse(self.name, settings))
        self.seen: list[tuple[Request, Decoding]] = []

    def generate(self, requests, decoding):
        self.seen += [(r, decoding) for r in requests]
        return ["ok" for _ in requests]


def post(base_url: str, body: dict) -> int:
    request = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def chat_body(system: str | None = None, **fields) -> dict:
    audio = {"type": "input_audio", "input_audio": {"data": wav_base64(np.zeros(RATE, np.float32), RATE), "format": "wav"}}
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": [audio]}]
    return {"model": "recorder", "messages": messages, **fields}


def test_the_model_server_takes_the_sampling_fields_and_the_system_turn():
    adapter = Recorder()
    server = ModelServer(adapter, "recorder", port=0, max_batch=1).start()
    try:
        assert post(server.base_url, chat_body("请记录下你所听到的语音内容。", temperature=0.5, top_k=40,
                                               repetition_penalty=1.2, min_tokens=2, seed=3, max_tokens=9)) == 200
        request, decoding = adapter.seen[-1]
        assert request.system == "请记录下你所听到的语音内容。"
        assert decoding == Decoding(max_new_tokens=9, temperature=0.5, seed=3, top_k=40, repetition_penalty=1.2,
                                    min_new_tokens=2)
        assert post(server.base_url, chat_body(max_tokens=9, seed=5)) == 200  # no temperature: the adapter's own
        assert adapter.seen[-1][1] == Decoding(max_new_tokens=9)
    finally:
        server.close()
    adapter = Recorder(decoding="model")
    server = ModelServer(adapter, "recorder", port=0, max_batch=1).start()
    try:
        assert post(server.base_url, chat_body(max_tokens=9, seed=5)) == 200
        assert adapter.seen[-1][1] == Decoding(max_new_tokens=9, temperature=0.3, seed=5, top_k=7)
    finally:
        server.close()


def test_the_model_server_refuses_a_system_turn_its_model_cannot_take():
    adapter = Recorder(takes_system_prompt=False)
    server = ModelServer(adapter, "recorder", port=0, max_batch=1).start()
    try:
        assert post(server.base_url, chat_body("Be terse.")) == 400
        assert adapter.seen == []
        assert post(server.base_url, chat_body()) == 200
    finally:
        server.close()


def test_a_temperature_set_over_a_servers_recipe_is_sent(chat):
    body = sent(chat, OpenAIChatAdapter, api_model="m", decoding="model", temperature=0.4, top_k=9)
    assert (body["temperature"], body["top_k"], body["seed"]) == (0.4, 9, 7)
    settings = OpenAIChatAdapter.identity({"base_url": chat.base_url, "api_model": "m", "decoding": "model",
                                           "temperature": 0})["settings"]
    assert settings["deterministic"] is True and settings["temperature"] == 0.0


def test_fields_a_request_sets_override_the_servers_own_decoding():
    adapter = Recorder(decoding="model")
    server = ModelServer(adapter, "recorder", port=0, max_batch=1).start()
    try:
        assert post(server.base_url, chat_body(max_tokens=9, top_k=3, repetition_penalty=1.3)) == 200
        assert adapter.seen[-1][1] == Decoding(max_new_tokens=9, temperature=0.3, seed=0, top_k=3,
                                               repetition_penalty=1.3)
        assert post(server.base_url, chat_body(max_tokens=9, top_k=-1)) == 400
    finally:
        server.close()
