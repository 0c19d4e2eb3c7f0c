"""`qwen2-audio` on a tiny random Qwen2-Audio loaded through the adapter's own from_pretrained path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_adapters.families.text import Decoding
from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from tests.helpers.tiny_models import build_qwen2_audio, cached, tiny_qwen2_audio

RATE = 16_000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_qwen2_audio(tmp_path_factory)


@pytest.fixture(scope="module")
def adapter(model_dir):
    adapter = Qwen2AudioAdapter(model=str(model_dir))
    yield adapter
    adapter.close()


def clips() -> list[np.ndarray]:
    """Different lengths and kinds of sound, so that a batch needs real padding."""
    rng = np.random.default_rng(1)
    t = np.arange(RATE * 4) / RATE
    return [
        (0.1 * rng.standard_normal(RATE * 2)).astype(np.float32),
        (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        (0.05 * rng.standard_normal(RATE)).astype(np.float32),
        (0.2 * np.sign(np.sin(2 * np.pi * 3 * t[: RATE * 3]))).astype(np.float32),
    ]


PROMPTS = ["Transcribe.", "Which scene? Scene: <name>", "Events?", ""]


def requests(seed: int = 0, mode: str = "independent") -> list[Request]:
    return [Request(None, c, p, None, mode, seed) for c, p in zip(clips(), PROMPTS)]  # type: ignore[arg-type]


def test_batched_greedy_answers_equal_batch_size_one(adapter):
    decoding = Decoding(max_new_tokens=12)
    batched = adapter.generate(requests(), decoding)
    single = [adapter.generate([r], decoding)[0] for r in requests()]
    assert batched == single
    assert len(set(batched)) == len(batched), "the tiny model must answer differently per clip for this test to bite"


def test_right_padding_would_break_batch_equality(model_dir):
    """The control: the equality above is earned by left padding, not by luck."""
    adapter = Qwen2AudioAdapter(model=str(model_dir))
    adapter.processor.tokenizer.padding_side = "right"
    decoding = Decoding(max_new_tokens=12)
    batched = adapter.generate(requests(), decoding)
    single = [adapter.generate([r], decoding)[0] for r in requests()]
    assert batched != single


def test_only_new_tokens_are_decoded_within_the_budget(adapter):
    answers = adapter.generate(requests(), Decoding(max_new_tokens=6))
    # byte-level tokens: at most one byte each; the prompt (hundreds of tokens) is not part of the answer
    assert all(len(a.encode("utf-8", "surrogatepass")) <= 6 * 3 for a in answers)
    assert not any("Transcribe" in a or "assistant" in a for a in answers)


def test_answer_uses_the_mode_budget_and_is_deterministic(model_dir):
    adapter = Qwen2AudioAdapter(model=str(model_dir), max_new_tokens={"independent": 3, "cot": 9})
    assert adapter.deterministic
    assert adapter.decoding_for("independent", 0).max_new_tokens == 3
    assert adapter.decoding_for("joint", 0).max_new_tokens == 256
    assert adapter.decoding_for("cot", 5) == Decoding(max_new_tokens=9, temperature=0.0, top_p=None, seed=None)
    first = adapter.answer(requests(seed=1))
    assert first == adapter.answer(requests(seed=2))  # greedy: the run seed does not matter


def test_the_models_own_sampling_defaults_are_not_used(adapter, tmp_path_factory):
    """Same weights, but generation_config.json asks for sampling and a repetition penalty: answers stay greedy."""
    noisy = cached(tmp_path_factory, "qwen2-audio-sampling-defaults", lambda f: build_qwen2_audio(
        f, generation_defaults={"do_sample": True, "temperature": 3.0, "top_k": 0, "repetition_penalty": 3.0}))
    other = Qwen2AudioAdapter(model=str(noisy))
    decoding = Decoding(max_new_tokens=12)
    assert other.generate(requests(), decoding) == adapter.generate(requests(), decoding)


def test_sampling_is_seeded_by_the_run_seed(model_dir):
    adapter = Qwen2AudioAdapter(model=str(model_dir), temperature=1.5, max_new_tokens=10)
    assert not adapter.deterministic and adapter.settings["deterministic"] is False
    a, b, c = (adapter.answer(requests(seed=s)) for s in (7, 7, 8))
    assert a == b
    assert a != c


def test_audio_beyond_30_seconds_is_cut(adapter):
    rng = np.random.default_rng(3)
    long = (0.1 * rng.standard_normal(RATE * 40)).astype(np.float32)
    decoding = Decoding(max_new_tokens=10)
    full = adapter.generate([Request(None, long, "Events?", None, "independent", 0)], decoding)  # type: ignore[arg-type]
    first_30 = adapter.generate([Request(None, long[: RATE * 30], "Events?", None, "independent", 0)], decoding)  # type: ignore[arg-type]
    assert full == first_30


def test_settings_identify_the_configuration_without_secrets_or_devices(adapter, model_dir):
    settings = adapter.settings
    assert settings["model"] == str(model_dir.resolve()) and len(settings["model_files"]) == 16
    assert settings["max_new_tokens"] == {"independent": 256, "joint": 256, "cot": 1024}
    assert settings["temperature"] == 0.0 and settings["deterministic"] is True
    assert "device" not in settings and "batch_size" not in settings
    json.dumps(settings)  # plain JSON
    identity = Qwen2AudioAdapter.identity({"model": str(model_dir), "batch_size": 2, "device": "cpu"})
    assert identity["settings"] == {k: v for k, v in settings.items() if k not in ("resolved_dtype", "commit")}
    assert Qwen2AudioAdapter.identity({}) ["settings"]["model"] == "Qwen/Qwen2-Audio-7B-Instruct"


def test_bad_settings_are_config_errors(model_dir):
    with pytest.raises(ConfigError, match="max_audio_seconds is at most 30"):
        Qwen2AudioAdapter(model=str(model_dir), max_audio_seconds=40)
    with pytest.raises(ConfigError, match="unknown setting 'base_url' for model qwen2-audio"):
        Qwen2AudioAdapter(model=str(model_dir), base_url="http://x")
    with pytest.raises(ConfigError, match="dtype must be one of"):
        Qwen2AudioAdapter(model=str(model_dir), dtype="float8")
