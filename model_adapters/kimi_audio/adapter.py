"""`kimi-audio`: Kimi-Audio-7B-Instruct, which needs an environment of its own.

Kimi-Audio's inference code (``kimia_infer``, GitHub ``MoonshotAI/Kimi-Audio``,
not on PyPI) pins torch 2.4.1, wants Python 3.10, flash-attn and CUDA. It
cannot share our environment, so it is evaluated across a process boundary:

1. in Kimi-Audio's environment (a clone with its submodules, ``git submodule
   update --init --recursive``, then its repository's Dockerfile or
   requirements, plus ``pip install soundfile tomli``), with this repository on
   ``PYTHONPATH``, run our model server around `KimiAudioNative`::

       python -m model_adapters.serve.openai_server --model kimi-audio \\
           --model-path moonshotai/Kimi-Audio-7B-Instruct --port 8000

2. here, evaluate it like any OpenAI-compatible endpoint::

       pytest --sseu-model=kimi-audio --sseu-base-url=http://HOST:8000/v1

Model rules followed by `KimiAudioNative`: 16 kHz mono, passed as a WAV file
path (Kimi-Audio's API takes paths); the prompt as a text message before the
audio message (the order of Kimi-Audio's own ASR example); text output only
(``output_type="text"``, no detokenizer loaded); greedy text decoding
(``text_temperature=0``) with an explicit ``max_new_tokens``; one clip at a
time (its API has no batching). ``decoding = "model"`` is the Evalkit's text
decoding (`EVALKIT`): greedy, ``text_top_k`` 5, ``text_repetition_penalty``
1.1 over the last 16 tokens (``text_repetition_window_size``); Kimi-Audio's
quick start uses 1.0 (no penalty), our greedy default too. The client sends
the recipe's values and the server's `KimiAudioNative` applies them; the
settings ``text_repetition_penalty`` and ``text_repetition_window_size`` set
them on the server itself, and are recorded in its identity. The clip is not cut (Kimi-Audio's Whisper-based
tokenizer handles the 10 s clips whole). GPU memory: about 20-24 GB in bfloat16.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

from model_adapters.families.inprocess import InProcessModel
from model_adapters.families.served import ServedModelAdapter
from model_adapters.families.text import DECODING_SETTINGS, Decoding, Recipe, TextAdapter
from model_adapters.utils.audio import TempWavs, cut
from model_adapters.utils.devices import choose_device
from model_adapters.utils.imports import require
from sseu_harness.adapter import Request
from sseu_harness.models.settings import Setting

REPO = "https://github.com/MoonshotAI/Kimi-Audio"
DEFAULT_MODEL = "moonshotai/Kimi-Audio-7B-Instruct"
WINDOW = 16  # text_repetition_window_size of Kimi-Audio's README (2607d51) and of the Evalkit (4080c49)
# MoonshotAI/Kimi-Audio-Evalkit 4080c49, almeval/models/kimi_audio.py: text_temperature 0.0, text_top_k 5,
# text_repetition_penalty 1.1, text_repetition_window_size 16 (Kimi-Audio's README quick start: penalty 1.0)
EVALKIT = Recipe("Kimi-Audio-Evalkit 4080c49 almeval/models/kimi_audio.py: greedy text, text_top_k 5, "
                 "text_repetition_penalty 1.1 over 16 tokens", {"temperature": 0.0, "top_k": 5, "repetition_penalty": 1.1})


class KimiAudioAdapter(ServedModelAdapter):
    """The client side: Kimi-Audio behind our model server (or any OpenAI-compatible API)."""

    name = "kimi-audio"
    paper_system = "Kimi-Audio"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    native = "model_adapters.kimi_audio.adapter:KimiAudioNative"
    default_api_model = "kimi-audio"
    default_model_path = DEFAULT_MODEL
    environment = "Python 3.10, torch 2.4.1, flash-attn, CUDA; kimia_infer from GitHub"
    RECIPE = EVALKIT


class KimiAudioNative(InProcessModel, TextAdapter):
    """The server side: Kimi-Audio in-process through ``kimia_infer.api.kimia.KimiAudio``."""

    name = "kimi-audio"
    paper_system = "Kimi-Audio"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    batch_size = 1
    default_model = DEFAULT_MODEL
    SETTINGS = DECODING_SETTINGS.extend(
        model=Setting("str", None, help="hub id or local folder of Kimi-Audio-7B-Instruct"),
        repo=Setting("str", None, help=f"folder of a clone of {REPO} when kimia_infer is not installed"),
        device=Setting("str", "auto"),
        text_top_k=Setting("pos_int", 5, help="top-k of text sampling (only with temperature > 0)"),
        text_repetition_penalty=Setting("pos", None, help="Kimi-Audio's text repetition penalty (default: "
                                                          "repetition_penalty, else 1 = none; the Evalkit's 1.1)"),
        text_repetition_window_size=Setting("pos_int", WINDOW, help="tokens the text repetition penalty looks back"),
        max_audio_seconds=Setting("pos", None, help="cut clips to their first N s (default: not cut)"),
    )
    IDENTITY_KEYS = ("model", "max_audio_seconds", "text_repetition_penalty")
    RECIPE = EVALKIT

    def __init__(self, **settings: Any) -> None:
        values = self.resolve(settings)
        self.values = values
        self.setup_decoding(values)
        self.device = choose_device(self.name, values["device"], self.serve_hint())
        if values["repo"]:
            repo = str(Path(values["repo"]).resolve())
            if repo not in sys.path:
                sys.path.insert(0, repo)
        torch = require("torch", self.name, "pip install torch==2.4.1 (Kimi-Audio's pin)")
        kimia = require("kimia_infer.api.kimia", self.name,
                        f"git clone {REPO} (not on PyPI), then `git submodule update --init --recursive` in it "
                        "(its GLM-4 tokenizer), install its requirements, and set repo to its folder")
        if self.device.startswith("cuda"):
            torch.cuda.set_device(self.device)  # KimiAudio places everything on torch.cuda.current_device()
        self.torch = torch
        self.model = kimia.KimiAudio(model_path=values["model"], load_detokenizer=False)
        self.wavs = TempWavs("sseu-kimi-")
        self.settings = self.describe(values)

    @classmethod
    def serve_hint(cls) -> str:
        return "run one model server per GPU (CUDA_VISIBLE_DEVICES=N ... --port 800N)"

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        out = super().describe(values)
        if values.get("text_repetition_penalty") is not None or out.get("repetition_penalty") is not None:
            out["text_repetition_window_size"] = values["text_repetition_window_size"]  # matters only with a penalty
        return out

    def text_sampling(self, decoding: Decoding) -> dict[str, Any]:
        """Kimi-Audio's text sampling arguments: the server's settings first, then the request's decoding."""
        return {
            "text_temperature": decoding.temperature,
            "text_top_k": decoding.top_k or self.values["text_top_k"],
            "text_repetition_penalty": self.values["text_repetition_penalty"] or decoding.repetition_penalty or 1.0,
            "text_repetition_window_size": self.values["text_repetition_window_size"],
        }

    def messages(self, request: Request, path: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if request.prompt:
            messages.append({"role": "user", "message_type": "text", "content": request.prompt})
        messages.append({"role": "user", "message_type": "audio", "content": path})
        return messages

    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        answers = []
        for request in requests:
            path = self.wavs.write(cut(request.audio, self.sample_rate, self.values["max_audio_seconds"]),
                                   self.sample_rate)
            try:
                if not decoding.greedy:
                    self.torch.manual_seed(int(decoding.seed or 0))
                _, text = self.model.generate(
                    self.messages(request, path),
                    output_type="text",
                    **self.text_sampling(decoding),
                    audio_temperature=0.0,
                    audio_top_k=5,
                    max_new_tokens=decoding.max_new_tokens,
                )
            finally:
                self.wavs.remove(path)
            answers.append((text or "").strip())
        return answers

    def close(self) -> None:
        self.model = None
        self.wavs.close()
