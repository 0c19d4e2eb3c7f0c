"""`laion-clap`: LAION-CLAP (transformers ``ClapModel`` + ``ClapProcessor``), a baseline for ASC and AT.

Model rules followed here:

- 48 kHz mono, a 10 s window (the feature extractor's ``max_length_s``).
  transformers would take a *random* 10 s of a longer clip (``rand_trunc``)
  or random chunks (``fusion``); the adapter crops first, deterministically
  (centre by default, see `model_adapters.families.clap`), so the extractor
  never draws. Shorter clips are repeat-padded by the extractor (``repeatpad``).
- Features are extracted clip by clip, and every clip is passed as not
  "longer" (``is_longer`` False): after our crop no clip exceeds the window,
  and laion_clap's own evaluation never fuses clips of 10 s or less
  (LAION-AI/CLAP 1fd4c37), while transformers' extractor marks a random clip
  of a batch "longer" when none is (a lone clip always), which would run a
  fusion checkpoint's fusion branch.
- Scores: softmax over the cosine similarity to the 6 scene texts (ASC),
  sigmoid of the cosine to the 18 event texts (AT), paper sec. 3.

The paper does not name its LAION-CLAP checkpoint; ``laion/clap-htsat-unfused``
is the default, ``laion/larger_clap_general`` the general-audio alternative.
GPU memory: under 1 GB; it runs on the CPU at a few clips per second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model_adapters.families.clap import CLAP_SETTINGS, ClapAdapter
from model_adapters.utils.hf_generation import LOAD_SETTINGS, loaded_revision, pretrained_kwargs, torch_dtype
from model_adapters.utils.imports import require
from sseu_harness.models.settings import Schema, Setting


def _embedding(output: Any) -> Any:
    """transformers 5 returns a ModelOutput (pooler_output = the projected embedding); 4.x a tensor."""
    return getattr(output, "pooler_output", output)


class LaionClapAdapter(ClapAdapter):
    name = "laion-clap"
    paper_system = "LAION-CLAP"  # the paper's name of this system (its figures in every report)
    sample_rate = 48_000
    batch_size = 16
    window_seconds = 10.0
    default_model = "laion/clap-htsat-unfused"
    HUB_FILE = "config.json"
    SETTINGS = Schema(**{**LOAD_SETTINGS, "dtype": Setting("str", "float32", choices=("float32", "float16", "bfloat16", "auto"))},
                      **CLAP_SETTINGS)
    IDENTITY_KEYS = ("model", "revision", "dtype")
    OFFICIAL_TEMPLATE = "This is a sound of {name}."  # laion_clap's zero-shot text (LAION-AI/CLAP 1fd4c37)

    def __init__(self, **settings: Any) -> None:
        values = self.prepare(settings)
        transformers = require("transformers", self.name, "pip install transformers")
        self.dtype = torch_dtype(values["dtype"], self.device)
        self.processor = transformers.ClapProcessor.from_pretrained(values["model"], **pretrained_kwargs(values))
        self.model = transformers.ClapModel.from_pretrained(values["model"], **pretrained_kwargs(values, self.dtype))
        self.model.to(self.device).eval()
        extractor = self.processor.feature_extractor
        self.window_seconds = extractor.nb_max_samples / extractor.sampling_rate
        if extractor.sampling_rate != self.sample_rate:
            self.sample_rate = int(extractor.sampling_rate)
        self.settings = {**self.describe(values), "window_seconds": self.window_seconds,
                         "truncation": extractor.truncation, "commit": loaded_revision(self.model)}

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        torch = self.torch
        extractor = self.processor.feature_extractor
        feats = [extractor(w, sampling_rate=self.sample_rate, return_tensors="pt") for w in windows]
        features = torch.cat([f["input_features"] for f in feats]).to(self.device, self.dtype)
        is_longer = torch.zeros(len(windows), 1, dtype=torch.bool, device=self.device)  # cropped: none is longer
        with torch.inference_mode():
            out = self.model.get_audio_features(input_features=features, is_longer=is_longer)
        return _embedding(out).float().cpu().numpy()

    def embed_text(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        tokens = self.processor.tokenizer(texts, padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model.get_text_features(**tokens)
        return _embedding(out).float().cpu().numpy()

    def close(self) -> None:
        self.model = None
        self.processor = None
