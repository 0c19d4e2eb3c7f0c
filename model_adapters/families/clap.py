"""What the CLAP baselines share: class texts, deterministic crops, and the paper's scoring.

Paper, sec. 3: audio and class labels are embedded separately, and the
confidences are the softmax over the scenes (ASC) or the sigmoid per event
class (AT) of the cosine similarity between the clip's embedding and each class
text's. The class texts are the class names put into a template:
``templates = "paper"`` (default) is the bare name, as the paper says "the
audio and class labels are encoded"; ``"official"`` is each model's own
zero-shot template (`ClapAdapter.OFFICIAL_TEMPLATE`); ``scene_template`` /
``event_template`` replace either. The names are the taxonomy's, those language
models are scored against; ``class_names = "paper"`` embeds the paper's names
where they differ (``clap_name`` in the taxonomy, e.g. "restaurant"), for CLAP
only. CLAP models do no ASR and follow no instructions: they declare
ASC and AT in independent mode only, and every other case is skipped with
that reason.

A clip longer than the model's window is cropped by us, never by the model's
random crop: ``crop = "center"`` (default) takes the middle window,
``"start"`` the beginning, ``"seeded"`` a window drawn from the run seed and
the clip itself (so runs differ, each reproducibly).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Mapping

import numpy as np

from model_adapters.families.inprocess import InProcessModel
from model_adapters.utils.audio import CROPS, crop
from model_adapters.utils.devices import choose_device
from model_adapters.utils.imports import require
from sseu_harness.adapter import Adapter, ClassScores, Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Setting
from sseu_harness.spec.taxonomy import load_taxonomy

PAPER_TEMPLATE = "{name}"  # "the audio and class labels are encoded separately" (paper, sec. 4)

CLAP_SETTINGS = dict(
    batch_size=Setting("pos_int", 16, help="clips per forward pass"),
    crop=Setting("str", "center", choices=CROPS, help="which window of a longer clip is heard"),
    templates=Setting("str", "paper", choices=("paper", "official"),
                      help="paper: the bare class name; official: the model's own zero-shot template"),
    class_names=Setting("str", "taxonomy", choices=("taxonomy", "paper"),
                        help="taxonomy: the names answers are scored against; paper: the paper's names (CLAP only)"),
    scene_template=Setting("str", None, help="text embedded for each scene (replaces the preset's)"),
    event_template=Setting("str", None, help="text embedded for each event class (replaces the preset's)"),
)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def class_scores(audio: np.ndarray, scenes: np.ndarray, events: np.ndarray) -> list[ClassScores]:
    """Paper eq.: softmax over cos(audio, scene texts); sigmoid of cos(audio, event texts)."""
    audio, scenes, events = (l2_normalize(np.asarray(a, dtype=np.float64)) for a in (audio, scenes, events))
    scene_conf = softmax(audio @ scenes.T, axis=1)
    event_conf = sigmoid(audio @ events.T)
    return [ClassScores(scenes=s, events=e) for s, e in zip(scene_conf, event_conf)]


class ClapAdapter(InProcessModel, Adapter):
    """Base of the CLAP baselines; subclasses load a model and embed audio windows and texts."""

    tasks = ("ASC", "AT")
    modes = ("independent",)
    deterministic = True  # with the default centre crop
    text_model = False
    window_seconds: float = 10.0  # what the model hears at once
    OFFICIAL_TEMPLATE = PAPER_TEMPLATE  # the model's own zero-shot template, cited where a subclass sets it

    @classmethod
    def templates_of(cls, values: Mapping[str, Any]) -> tuple[str, str]:
        """(scene template, event template): the preset's, each replaced by its setting when given."""
        preset = cls.OFFICIAL_TEMPLATE if values["templates"] == "official" else PAPER_TEMPLATE
        return values["scene_template"] or preset, values["event_template"] or preset

    @classmethod
    def serve_hint(cls) -> str:
        return "run it with -n equal to the number of GPUs, or on the CPU (device = \"cpu\"): CLAP is small"

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        out = super().describe(values)
        scene_template, event_template = cls.templates_of(values)
        out.update(crop=values["crop"], scene_template=scene_template, event_template=event_template,
                   window_seconds=cls.window_of(values), deterministic=values["crop"] != "seeded")
        if values["class_names"] != "taxonomy":
            out["class_names"] = values["class_names"]
        return out

    @classmethod
    def window_of(cls, values: Mapping[str, Any]) -> float:
        """Seconds heard at once, as known from the settings (before the model loads)."""
        return cls.window_seconds

    def prepare(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """What every CLAP adapter does before loading its model: settings, class texts, device, torch."""
        values = self.resolve(settings)
        self.values = values
        self.setup_classes(values)
        self.device = choose_device(self.name, values["device"], self.serve_hint())
        self.torch = require("torch", self.name, "pip install torch")
        return values

    def setup_classes(self, values: Mapping[str, Any]) -> None:
        templates = dict(zip(("scene_template", "event_template"), self.templates_of(values)))
        for key, template in templates.items():
            if "{name}" not in template:
                raise ConfigError(f"model {self.name}: {key} must contain {{name}}, got {template!r}")
        taxonomy = load_taxonomy()
        paper = values["class_names"] == "paper"
        name = lambda label: (label.clap_name or label.name) if paper else label.name  # noqa: E731
        self.scene_texts = [templates["scene_template"].format(name=name(s)) for s in taxonomy.scenes]
        self.event_texts = [templates["event_template"].format(name=name(e)) for e in taxonomy.events]
        self.crop_mode = values["crop"]
        self.deterministic = self.crop_mode != "seeded"
        self.batch_size = values["batch_size"]
        self._scene_emb = self._event_emb = None

    def window(self, request: Request) -> np.ndarray:
        length = int(round(self.window_seconds * self.sample_rate))
        return crop(np.asarray(request.audio, dtype=np.float32), length, self.crop_mode, request.seed)

    def answer(self, requests: list[Request]) -> list[ClassScores]:
        if not requests:
            return []
        if self._scene_emb is None:
            self._scene_emb = self.embed_text(self.scene_texts)
            self._event_emb = self.embed_text(self.event_texts)
        audio = self.embed_audio([self.window(r) for r in requests])
        return class_scores(audio, self._scene_emb, self._event_emb)

    @abstractmethod
    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        """(n, d) embeddings of windows no longer than `window_seconds`."""

    @abstractmethod
    def embed_text(self, texts: list[str]) -> np.ndarray:
        """(n, d) embeddings of class texts."""
