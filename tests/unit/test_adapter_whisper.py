"""`whisper` on a tiny random Whisper loaded through the adapter's own from_pretrained path."""

from __future__ import annotations

import numpy as np
import pytest

from model_adapters.families.text import Decoding
from model_adapters.whisper.adapter import WhisperAdapter
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from tests.helpers.tiny_models import tiny_whisper

RATE = 16_000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_whisper(tmp_path_factory)


@pytest.fixture(scope="module")
def adapter(model_dir):
    adapter = WhisperAdapter(model=str(model_dir), max_new_tokens=10)
    yield adapter
    adapter.close()


def requests(prompt: str = "") -> list[Request]:
    t = np.arange(RATE * 9) / RATE
    rng = np.random.default_rng(5)
    audio = [
        (0.3 * np.sin(2 * np.pi * 220 * t[: RATE * 3])).astype(np.float32),
        (0.1 * rng.standard_normal(RATE * 9)).astype(np.float32),
        (0.5 * np.sign(np.sin(2 * np.pi * 2 * t[: RATE * 5]))).astype(np.float32),
    ]
    return [Request(None, a, prompt, "ASR", "independent", 0) for a in audio]  # type: ignore[arg-type]


def test_declares_asr_only_in_independent_mode():
    assert WhisperAdapter.unsupported("ASR", "independent") is None
    assert WhisperAdapter.unsupported("ASC", "independent") == "whisper does not do ASC"
    assert WhisperAdapter.unsupported("ASR", "joint") == "whisper does not support joint mode"


def test_batched_transcripts_equal_batch_size_one(adapter):
    batched = adapter.answer(requests())
    single = [adapter.answer([r])[0] for r in requests()]
    assert batched == single
    assert len(set(batched)) > 1


def test_a_prompt_conditions_but_is_not_part_of_the_transcript(adapter):
    plain = adapter.answer(requests())
    prompted = adapter.answer(requests(prompt="the birch canoe"))
    assert all("birch" not in text for text in prompted)
    assert prompted != plain  # the previous-text slot reaches the decoder


def test_audio_beyond_30_seconds_is_cut(adapter):
    long = (0.2 * np.random.default_rng(9).standard_normal(RATE * 45)).astype(np.float32)
    full = adapter.generate([Request(None, long, "", "ASR", "independent", 0)], Decoding(10))  # type: ignore[arg-type]
    cut = adapter.generate([Request(None, long[: RATE * 30], "", "ASR", "independent", 0)], Decoding(10))  # type: ignore[arg-type]
    assert full == cut


def test_settings_and_limits(adapter, model_dir):
    assert adapter.settings["language"] == "en" and adapter.settings["max_new_tokens"] == 10
    assert adapter.settings["deterministic"] is True
    with pytest.raises(ConfigError, match="max_new_tokens is at most 440"):
        WhisperAdapter(model=str(model_dir), max_new_tokens=1000)
    with pytest.raises(ConfigError, match="unknown setting 'temperature' for model whisper"):
        WhisperAdapter(model=str(model_dir), temperature=0.5)
