"""The CLAP baselines as their authors run them (issue 20, point 9): fusion, device, identity, templates, names."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from model_adapters.clap.adapter import MsClapAdapter
from model_adapters.laion_clap.adapter import LaionClapAdapter
from model_adapters.mga_clap.adapter import MgaClapAdapter
from sseu_harness.spec.taxonomy import load_taxonomy
from tests.helpers.tiny_models import tiny_clap
from tests.unit.test_adapter_github_models import MGA, fresh_modules, write_tree  # noqa: F401 - a fixture

RATE = 48_000


def clip(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def test_a_fused_laion_clap_never_runs_its_fusion_branch_on_a_cropped_clip(tmp_path_factory):
    """laion_clap's eval never fuses clips of 10 s or less; transformers' extractor marks a lone clip "longer"."""
    import torch

    adapter = LaionClapAdapter(model=str(tiny_clap(tmp_path_factory, fusion=True)))
    window = clip(8)
    features = adapter.processor.feature_extractor(window, sampling_rate=RATE, return_tensors="pt")
    assert features["is_longer"].all()  # what the extractor says of a lone 8 s clip: the trap

    def embedding(is_longer: bool) -> np.ndarray:
        with torch.no_grad():
            out = adapter.model.get_audio_features(input_features=features["input_features"],
                                                   is_longer=torch.tensor([[is_longer]]))
        return getattr(out, "pooler_output", out)[0].numpy()

    ours = adapter.embed_audio([window])[0]
    np.testing.assert_allclose(ours, embedding(False), rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours, embedding(True), rtol=1e-3), "the fusion branch must change the embedding"


def test_mga_clap_makes_its_gpu_the_current_device_before_building_the_model(tmp_path, monkeypatch, fresh_modules):
    import torch

    import model_adapters.families.clap as clap_family

    repo = write_tree(tmp_path / "MGA-CLAP", MGA)
    torch.save({"model": {"scale": torch.ones(1)}}, tmp_path / "model.pt")
    monkeypatch.setattr(clap_family, "choose_device", lambda *args: "cuda:1")

    class Stop(Exception):
        pass

    def set_device(device):
        raise Stop(device)

    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    with pytest.raises(Stop, match="cuda:1"):
        MgaClapAdapter(repo=str(repo), model=str(tmp_path / "model.pt"))
    assert not [c for c in sys.modules["models.ase_model"].CALLS if c[0] == "init"]  # before ASE(config)


def test_mga_clap_identity_records_its_config_and_checkpoint(tmp_path):
    repo = write_tree(tmp_path / "MGA-CLAP", MGA)
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    settings = {"repo": str(repo), "model": str(checkpoint)}
    first = MgaClapAdapter.identity(settings)["settings"]
    assert first["config"] == str((repo / "settings" / "inference_example.yaml").resolve())
    assert len(first["config_sha256"]) == 16 and len(first["model_file"]) == 16
    checkpoint.write_bytes(b"other weights")
    (repo / "settings" / "inference_example.yaml").write_text("device: cuda\naudio_args:\n  sr: 16000\n")
    second = MgaClapAdapter.identity(settings)["settings"]
    assert second["model_file"] != first["model_file"] and second["config_sha256"] != first["config_sha256"]


def test_ms_clap_identity_records_each_versions_window():
    assert MsClapAdapter.identity({"version": "2022"})["settings"]["window_seconds"] == 5.0
    assert MsClapAdapter.identity({"version": "2023"})["settings"]["window_seconds"] == 7.0
    assert "ICASSP 2023: CNN14 and BERT" in sys.modules[MsClapAdapter.__module__].__doc__.replace("\n", " ")


@pytest.mark.parametrize("factory, official", [
    (MsClapAdapter, "this is a sound of {name}"),  # microsoft/CLAP e8a6467
    (LaionClapAdapter, "This is a sound of {name}."),  # LAION-AI/CLAP 1fd4c37
    (MgaClapAdapter, "{name} can be heard"),  # Ming-er/MGA-CLAP 48ca5a5
])
def test_template_presets(factory, official):
    settings = lambda **more: factory.identity(more)["settings"]  # noqa: E731
    assert (settings()["scene_template"], settings()["event_template"]) == ("{name}", "{name}")  # paper: bare names
    assert (settings(templates="official")["scene_template"], settings(templates="official")["event_template"]) == (
        official, official)
    assert settings(templates="official", scene_template="a {name}")["scene_template"] == "a {name}"


def test_official_templates_and_paper_names_reach_the_text_encoder_not_the_scoring(tmp_path_factory):
    model = str(tiny_clap(tmp_path_factory))
    default = LaionClapAdapter(model=model)
    official = LaionClapAdapter(model=model, templates="official", class_names="paper")
    taxonomy = load_taxonomy()
    index = taxonomy.scene_ids.index("cafe_restaurant")
    assert default.scene_texts[index] == "cafe or restaurant"
    assert official.scene_texts[index] == "This is a sound of restaurant."
    assert official.event_texts[0] == f"This is a sound of {taxonomy.events[0].name}."
    assert official.settings["class_names"] == "paper" and "class_names" not in default.settings
    assert taxonomy.scene_name("cafe_restaurant") == "cafe or restaurant"  # what language models are scored against
