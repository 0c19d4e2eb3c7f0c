"""`clap`: MS-CLAP (Microsoft's CLAP), through the ``msclap`` package.

``version = "2022"`` is the original CLAP of Elizalde et al. (ICASSP 2023:
CNN14 and BERT, 5 s windows); ``"2023"`` (msclap's default and ours) is the
later HTSAT and GPT-2 model with 7 s windows (microsoft/CLAP e8a6467).

Model rules followed here:

- 44.1 kHz mono and a fixed window (``duration`` in msclap's config: 7 s for
  version 2023, 5 s for 2022). msclap would take a random window of a longer
  clip (``random.randrange``); the adapter crops first, deterministically
  (centre by default), and repeat-pads a shorter clip the way msclap does, then
  calls msclap's audio encoder on the prepared batch.
- A 10 s SSEU-Bench clip is longer than the window: with the default crop
  MS-CLAP hears 1.5 s to 8.5 s (version 2023).
- Scores: softmax over the cosine to the scene texts (ASC), sigmoid of the
  cosine to the event texts (AT), paper sec. 3.

Install: ``pip install msclap -c constraints.txt`` (keep your torch). Not
installable here: this adapter has run only against a stand-in module that
mimics msclap's API (``tests/test_adapter_clap_family.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model_adapters.families.clap import CLAP_SETTINGS, ClapAdapter
from model_adapters.utils.audio import repeat_to
from model_adapters.utils.imports import check_importable, require
from sseu_harness.models.settings import Schema, Setting

INSTALL = "pip install msclap (keep your torch: -c constraints.txt on a CPU machine)"


class MsClapAdapter(ClapAdapter):
    name = "clap"
    paper_system = "CLAP"  # the paper's name of this system (its figures in every report)
    sample_rate = 44_100
    batch_size = 16
    window_seconds = 7.0
    default_model = "2023"
    SETTINGS = Schema(
        version=Setting("str", "2023", choices=("2022", "2023"), help="msclap weights version"),
        weights=Setting("str", None, help="a local .pth file (else msclap downloads microsoft/msclap)"),
        device=Setting("str", "auto"),
        **CLAP_SETTINGS,
    )
    IDENTITY_KEYS = ("version", "weights")
    OFFICIAL_TEMPLATE = "this is a sound of {name}"  # msclap's zero-shot example: "this is a sound of " + label (e8a6467)
    WINDOWS = {"2022": 5.0, "2023": 7.0}  # msclap's config `duration` per version

    @classmethod
    def window_of(cls, values) -> float:
        return cls.WINDOWS[values["version"]]

    @classmethod
    def check_settings(cls, settings, workers: int = 1) -> None:
        super().check_settings(settings, workers)
        check_importable("msclap", cls.name, INSTALL)

    def __init__(self, **settings: Any) -> None:
        values = self.prepare(settings)
        msclap = require("msclap", self.name, INSTALL)
        cuda = self.device.startswith("cuda")
        if cuda:
            self.torch.cuda.set_device(self.device)  # msclap moves the model with .cuda()
        self.clap = msclap.CLAP(model_fp=values["weights"], version=values["version"], use_cuda=cuda)
        args = self.clap.args
        self.sample_rate = int(args.sampling_rate)
        self.window_seconds = float(args.duration)
        self.settings = {**self.describe(values), "window_seconds": self.window_seconds,
                         "sample_rate": self.sample_rate}

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        torch = self.torch
        length = int(round(self.window_seconds * self.sample_rate))
        batch = np.stack([repeat_to(w, length) for w in windows])[:, None, :]  # (n, 1, samples), msclap's layout
        tensor = torch.as_tensor(batch, dtype=torch.float32)
        if self.device.startswith("cuda"):
            tensor = tensor.to(self.device)
        with torch.no_grad():
            out = self.clap._get_audio_embeddings(tensor)
        return np.asarray(out.detach().float().cpu().numpy())

    def embed_text(self, texts: list[str]) -> np.ndarray:
        with self.torch.no_grad():
            out = self.clap.get_text_embeddings(texts)
        return np.asarray(out.detach().float().cpu().numpy())

    def close(self) -> None:
        self.clap = None
