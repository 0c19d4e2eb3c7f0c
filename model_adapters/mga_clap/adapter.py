"""`mga-clap`: MGA-CLAP (Li et al.; GitHub ``Ming-er/MGA-CLAP``), a baseline for ASC and AT.

MGA-CLAP is not a package: clone its repository and give its folder as
``repo``, its inference config as ``config`` (default
``<repo>/settings/inference_example.yaml``) and the checkpoint as ``model``.
The adapter imports ``models.ase_model.ASE`` from there and uses the calls of
the repository's own zero-shot scripts: ``encode_text`` + ``msc`` for the
class texts, ``encode_audio`` + ``msc`` for the clips.

Model rules followed here:

- 32 kHz mono, a 10 s window: a longer clip is cropped (centre by default,
  deterministic), a shorter one zero-padded to 10 s as the repository's
  zero-shot classification does.
- Scores: softmax over the cosine to the scene texts (ASC), sigmoid of the
  cosine to the event texts (AT), paper sec. 3.
- Its Sparsemax allocates on ``'cuda'``, the current device: it needs a GPU
  (about 2 GB), and the adapter makes its device the current one.
- The identity records the inference config (path and content hash) and a
  fingerprint of the checkpoint file (its size, first and last MiB).

Not installable here: this adapter has run only against a stand-in repository
that mimics the ASE API (``tests/test_adapter_clap_family.py``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from model_adapters.families.clap import CLAP_SETTINGS, ClapAdapter
from model_adapters.families.inprocess import file_fingerprint
from model_adapters.utils.imports import require
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Schema, Setting

REPO = "https://github.com/Ming-er/MGA-CLAP"


class MgaClapAdapter(ClapAdapter):
    name = "mga-clap"
    paper_system = "MGA-CLAP"  # the paper's name of this system (its figures in every report)
    sample_rate = 32_000
    batch_size = 16
    window_seconds = 10.0
    SETTINGS = Schema(
        repo=Setting("str", None, help=f"folder of a clone of {REPO}"),
        model=Setting("str", None, help="the checkpoint (.pt) the repository's README links"),
        config=Setting("str", None, help="inference YAML (default <repo>/settings/inference_example.yaml)"),
        device=Setting("str", "auto"),
        **CLAP_SETTINGS,
    )
    IDENTITY_KEYS = ("model",)
    OFFICIAL_TEMPLATE = "{name} can be heard"  # its zero-shot scripts' text (Ming-er/MGA-CLAP 48ca5a5)

    @classmethod
    def config_path(cls, values) -> Path | None:
        if values["config"]:
            return Path(values["config"])
        return Path(values["repo"]) / "settings" / "inference_example.yaml" if values["repo"] else None

    @classmethod
    def describe(cls, values) -> dict[str, Any]:
        out = super().describe(values)
        config = cls.config_path(values)
        if config is not None:
            out["config"] = str(config.resolve())
            if config.is_file():
                out["config_sha256"] = hashlib.sha256(config.read_bytes()).hexdigest()[:16]
        if values["model"] and Path(values["model"]).is_file():
            out["model_file"] = file_fingerprint(Path(values["model"]))
        return out

    @classmethod
    def serve_hint(cls) -> str:
        return "run it with -n equal to the number of GPUs"

    @classmethod
    def check_settings(cls, settings, workers: int = 1) -> None:
        values = cls.resolve(settings)
        for key in ("repo", "model"):
            if not values[key]:
                raise ConfigError(
                    f"model {cls.name} needs {key}: clone {REPO}, download its checkpoint, and set repo and model "
                    f"in [models.{cls.name}] of a models file (--sseu-models-file)"
                )
        repo = Path(values["repo"])
        if not (repo / "models" / "ase_model.py").is_file():
            raise ConfigError(f"model {cls.name}: {repo} is not a clone of {REPO} (no models/ase_model.py)")
        super().check_settings(settings, workers)

    def __init__(self, **settings: Any) -> None:
        self.check_settings(settings)
        values = self.prepare(settings)
        yaml = require("yaml", self.name, "pip install pyyaml")
        repo = str(Path(values["repo"]).resolve())
        if repo not in sys.path:
            sys.path.insert(0, repo)
        ase = require("models.ase_model", self.name, f"git clone {REPO} and set repo to its folder")
        with open(self.config_path(values), encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        config["device"] = self.device
        if self.device.startswith("cuda"):
            self.torch.cuda.set_device(self.device)  # its Sparsemax allocates on 'cuda', the current device
        self.sample_rate = int(config.get("audio_args", {}).get("sr", self.sample_rate))
        self.window_seconds = float(config.get("audio_args", {}).get("max_length", self.window_seconds))
        self.model = ase.ASE(config)
        self.model.to(self.device)
        state = self.torch.load(values["model"], map_location=self.device, weights_only=True)  # tensors only, no pickled code
        self.model.load_state_dict(state["model"] if isinstance(state, dict) and "model" in state else state, strict=True)
        self.model.eval()
        self.settings = {**self.describe(values), "window_seconds": self.window_seconds, "sample_rate": self.sample_rate}

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        torch = self.torch
        length = int(round(self.window_seconds * self.sample_rate))
        batch = np.stack([np.pad(w, (0, length - w.shape[0])) for w in windows]).astype(np.float32)
        with torch.no_grad():
            _, frames = self.model.encode_audio(torch.as_tensor(batch, device=self.device))
            clip = self.model.msc(frames, self.model.codebook)
        return clip.detach().float().cpu().numpy()

    def embed_text(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            _, words, mask = self.model.encode_text(texts)
            emb = self.model.msc(words, self.model.codebook, mask)
        return emb.detach().float().cpu().numpy()

    def close(self) -> None:
        self.model = None
