"""`laion-clap` on tiny random ClapModels (plain and fusion) loaded through the adapter's from_pretrained path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_adapters.laion_clap.adapter import LaionClapAdapter
from sseu_harness.adapter import ClassScores, Request
from sseu_harness.errors import ConfigError
from sseu_harness.spec.taxonomy import load_taxonomy
from tests.helpers.tiny_models import tiny_clap

RATE = 48_000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_clap(tmp_path_factory)


@pytest.fixture(scope="module")
def adapter(model_dir):
    return LaionClapAdapter(model=str(model_dir))


def clip(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.2 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def ask(adapter, audio: np.ndarray, seed: int = 0, task: str = "ASC") -> ClassScores:
    return adapter.answer([Request(None, audio, "", task, "independent", seed)])[0]  # type: ignore[arg-type]


def test_declares_asc_and_at_in_independent_mode_only():
    assert LaionClapAdapter.unsupported("ASC", "independent") is None
    assert LaionClapAdapter.unsupported("AT", "independent") is None
    assert LaionClapAdapter.unsupported("ASR", "independent") == "laion-clap does not do ASR"
    assert LaionClapAdapter.unsupported("AT", "joint") == "laion-clap does not support joint mode"


def test_scores_are_softmax_and_sigmoid_of_cosine_similarity(adapter):
    """Recomputed by hand from the model's own embeddings (paper sec. 3)."""
    import torch

    audio = clip(6)
    scores = ask(adapter, audio)
    taxonomy = load_taxonomy()
    features = adapter.processor.feature_extractor(audio, sampling_rate=RATE, return_tensors="pt")
    with torch.no_grad():
        a = adapter.model.get_audio_features(**features).pooler_output[0].numpy().astype(np.float64)
        tokens = adapter.processor.tokenizer([s.name for s in taxonomy.scenes], padding=True, return_tensors="pt")
        s = adapter.model.get_text_features(**tokens).pooler_output.numpy().astype(np.float64)
        tokens = adapter.processor.tokenizer([e.name for e in taxonomy.events], padding=True, return_tensors="pt")
        e = adapter.model.get_text_features(**tokens).pooler_output.numpy().astype(np.float64)
    cos = lambda m: (m @ a) / (np.linalg.norm(m, axis=1) * np.linalg.norm(a))  # noqa: E731
    expected_scenes = np.exp(cos(s)) / np.exp(cos(s)).sum()
    expected_events = 1 / (1 + np.exp(-cos(e)))
    assert scores.scenes.shape == (6,) and scores.events.shape == (18,)
    np.testing.assert_allclose(scores.scenes, expected_scenes, rtol=1e-5)
    np.testing.assert_allclose(scores.events, expected_events, rtol=1e-5)
    assert abs(scores.scenes.sum() - 1) < 1e-9 and ((0 < scores.events) & (scores.events < 1)).all()


def test_longer_clips_are_cropped_deterministically(model_dir, adapter):
    audio = clip(14, seed=1)
    centre = ask(adapter, audio)
    np.testing.assert_allclose(centre.scenes, ask(adapter, audio[2 * RATE : 12 * RATE]).scenes, rtol=1e-6)
    np.testing.assert_allclose(centre.scenes, ask(adapter, audio).scenes, rtol=0)  # no random crop anywhere
    start = LaionClapAdapter(model=str(model_dir), crop="start")
    np.testing.assert_allclose(ask(start, audio).scenes, ask(start, audio[: 10 * RATE]).scenes, rtol=1e-6)
    seeded = LaionClapAdapter(model=str(model_dir), crop="seeded")
    assert not seeded.deterministic and seeded.settings["deterministic"] is False
    np.testing.assert_allclose(ask(seeded, audio, seed=3).events, ask(seeded, audio, seed=3).events, rtol=0)
    assert not np.allclose(ask(seeded, audio, seed=3).events, ask(seeded, audio, seed=4).events, rtol=0, atol=0)


@pytest.mark.parametrize("fusion", [False, True], ids=["rand_trunc", "fusion"])
def test_scores_do_not_depend_on_the_batch(tmp_path_factory, fusion):
    adapter = LaionClapAdapter(model=str(tiny_clap(tmp_path_factory, fusion=fusion)), batch_size=4)
    audios = [clip(3, 0), clip(10, 1), clip(12, 2), clip(7, 3)]
    batch = adapter.answer([Request(None, a, "", "AT", "independent", 0) for a in audios])  # type: ignore[arg-type]
    for audio, scores in zip(audios, batch):
        alone = ask(adapter, audio, task="AT")
        np.testing.assert_allclose(scores.events, alone.events, rtol=1e-6)
        np.testing.assert_allclose(scores.scenes, alone.scenes, rtol=1e-6)
    assert adapter.settings["truncation"] == ("fusion" if fusion else "rand_trunc")


def test_templates_and_settings(model_dir, adapter):
    themed = LaionClapAdapter(model=str(model_dir), scene_template="the sound of a {name}")
    assert themed.scene_texts[0].startswith("the sound of a ") and adapter.scene_texts[0] == "home"
    assert not np.allclose(ask(themed, clip(5)).scenes, ask(adapter, clip(5)).scenes)
    with pytest.raises(ConfigError, match="must contain {name}"):
        LaionClapAdapter(model=str(model_dir), event_template="a sound")
    with pytest.raises(ConfigError, match="crop must be one of center, start, seeded"):
        LaionClapAdapter(model=str(model_dir), crop="random")
    settings = adapter.settings
    assert settings["crop"] == "center" and settings["window_seconds"] == 10.0 and settings["deterministic"]
    json.dumps(settings)
