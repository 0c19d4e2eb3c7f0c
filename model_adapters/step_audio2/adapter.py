"""`step-audio2`: Step-Audio 2 mini (GitHub ``stepfun-ai/Step-Audio2``), two ways.

With a base URL (``--sseu-base-url`` / ``base_url``) it talks to StepFun's vLLM
build (``stepfun2025/vllm:step-audio-2-v20250909``, served model name
``step-audio-2-mini``) the way StepFun's own ``stepaudio2vllm.py`` client does:
a system turn, a ``human`` turn with the clip as 16-bit 16 kHz WAV
``input_audio`` parts of at most 25 s each, then the prompt as text (audio
first), greedy (``temperature`` 0) with explicit ``max_tokens``.

The system turn is StepFun's per task (stepfun-ai/Step-Audio2 7c58630,
``examples.py``): the prompt set's ``[system.step-audio2]`` table. ASR puts
"请记录下你所听到的语音内容。" in the system turn and sends the audio alone (the
prompt set's ASR override is empty); the understanding tasks use StepFun's
audio-analysis system prompt with our instruction. The ``system_prompt``
setting replaces it for every task. ``decoding = "model"`` is StepFun's chat
sampling (`RECIPE`).

Without a base URL it runs the native class ``stepaudio2.StepAudio2`` from a
clone of the repository (``repo``), with weights from ``model``
(``Step-Audio-2-mini``). That class pins transformers 4.49 and moves the
model to CUDA itself, so in practice it runs in its own environment behind our
model server (``python -m model_adapters.serve.openai_server --model
step-audio2 --model-path Step-Audio-2-mini --set repo=...``), and this adapter
points at that server with a base URL. Its API takes one conversation with a
WAV path: one clip at a time; it cuts audio into 25 s chunks itself.

GPU memory: about 18 GB (8 B parameters in bfloat16) natively; vLLM as sized
by ``--gpu-memory-utilization``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

from model_adapters.families.served import ENDPOINT_SETTINGS, ChatAdapter
from model_adapters.families.text import Decoding, Recipe, TextAdapter, decoding_summary
from model_adapters.utils.audio import TempWavs
from model_adapters.utils.devices import check_workers_fit, choose_device
from model_adapters.utils.imports import check_importable, require
from model_adapters.utils.openai_chat import public_urls
from sseu_harness.adapter import Request
from sseu_harness.models.settings import Setting

REPO = "https://github.com/stepfun-ai/Step-Audio2"
# stepfun-ai/Step-Audio2 7c58630, examples.py and examples-vllm.py: the chat examples sample so
STEPFUN_CHAT = Recipe("StepFun's chat sampling (stepfun-ai/Step-Audio2 7c58630, examples.py)",
                      {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.05})
CHUNK_SECONDS = 25.0
NATIVE_INSTALL = (f"git clone {REPO} and set repo to its folder and model to Step-Audio-2-mini "
                  "(transformers==4.49, in its own environment), or give --sseu-base-url of StepFun's vLLM")


class _Endpoint(ChatAdapter):
    """StepFun's vLLM build, spoken to as StepFun's client does."""

    name = "step-audio2"
    default_api_model = "step-audio-2-mini"
    RECIPE = STEPFUN_CHAT

    @classmethod
    def env_base_url(cls) -> str | None:
        return None

    @classmethod
    def env_api_model(cls) -> str | None:
        return None


_ENDPOINT_DEFAULTS = {"user_role": "human", "audio_first": True, "audio_chunk_seconds": CHUNK_SECONDS}


class StepAudio2Adapter(TextAdapter):
    name = "step-audio2"
    paper_system = "Step-Audio 2 Mini"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    batch_size = 1
    deterministic = True
    takes_system_prompt = True  # served natively: the prompt set's system turn reaches StepAudio2
    RECIPE = STEPFUN_CHAT
    SETTINGS = ENDPOINT_SETTINGS.extend(
        model=Setting("str", None, help="native: folder of the Step-Audio-2-mini weights"),
        repo=Setting("str", None, help=f"native: folder of a clone of {REPO}"),
        device=Setting("str", "auto", help="native: auto, cuda or cuda:N"),
        user_role=Setting("str", "human"),
        audio_first=Setting("bool", True),
        system_prompt=Setting("str", None, help="replaces the prompt set's per-task system turn"),
        audio_chunk_seconds=Setting("pos", CHUNK_SECONDS),
    )

    @classmethod
    def endpoint_mode(cls, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("base_url"))

    @classmethod
    def serve_hint(cls) -> str:
        return ("serve it once with StepFun's vLLM image (docs/models/step-audio2.md) and run "
                "`--sseu-model=step-audio2 --sseu-base-url=http://127.0.0.1:8000/v1`")

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], workers: int = 1) -> None:
        values = cls.SETTINGS.parse(cls.name, settings)
        if cls.endpoint_mode(values):
            _Endpoint.resolve(_endpoint_settings(settings))
        else:
            check_importable("stepaudio2", cls.name, NATIVE_INSTALL, values["repo"])
            check_workers_fit(cls.name, values["device"], workers, cls.serve_hint())

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        if cls.endpoint_mode(values):
            return {"backend": "endpoint", **_Endpoint.describe(_Endpoint.resolve(_endpoint_settings(values)))}
        out = {"backend": "native", "model": values.get("model")}
        if values["system_prompt"]:
            out["system_prompt"] = values["system_prompt"]
        out.update(decoding_summary(values, cls.RECIPE))
        return out

    @classmethod
    def identity(cls, user_settings: dict) -> dict:
        values = cls.SETTINGS.parse(cls.name, user_settings)
        out = {"adapter": f"{cls.__module__}.{cls.__qualname__}", "name": cls.name,
               "sample_rate": cls.sample_rate, "settings": cls.describe(values)}
        if cls.endpoint_mode(values):
            out["server"] = _Endpoint.server_identity(_Endpoint.resolve(_endpoint_settings(values)))
        return out

    def __init__(self, **settings: Any) -> None:
        values = self.SETTINGS.parse(self.name, settings)
        self.values = values
        self.setup_decoding(values)
        self.endpoint: _Endpoint | None = None
        self.model = None
        if self.endpoint_mode(values):
            self.endpoint = _Endpoint(**_endpoint_settings(settings))
            self.batch_size = self.endpoint.batch_size
            self.concurrency = self.endpoint.concurrency  # the harness streams requests to the server
        else:
            self._load_native(values)
        self.settings = self.describe(values)

    def __repr__(self) -> str:
        if self.endpoint is not None:
            return f"StepAudio2Adapter(base_url={public_urls(self.endpoint.base_url)!r})"
        return f"StepAudio2Adapter(model={self.values.get('model')!r})"

    def _load_native(self, values: Mapping[str, Any]) -> None:
        if values["repo"]:
            repo = str(Path(values["repo"]).resolve())
            if repo not in sys.path:
                sys.path.insert(0, repo)
        torch = require("torch", self.name, "pip install torch")
        module = require("stepaudio2", self.name, NATIVE_INSTALL)
        device = choose_device(self.name, values["device"], self.serve_hint())
        if device.startswith("cuda"):
            torch.cuda.set_device(device)  # StepAudio2 moves itself with .cuda()
        self.torch = torch
        self.model = module.StepAudio2(values["model"] or "Step-Audio-2-mini")
        self.wavs = TempWavs("sseu-step-")

    def prepare_request(self, request: Request) -> Request:
        return self.endpoint.prepare_request(request) if self.endpoint is not None else request

    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        if self.endpoint is not None:
            self.endpoint.call_timeout = self.call_timeout  # the harness's limit reaches the inner client
            return self.endpoint.generate(requests, decoding)
        return [self._native(r, decoding) for r in requests]

    def _native(self, request: Request, decoding: Decoding) -> str:
        path = self.wavs.write(request.audio, self.sample_rate)
        content: list[dict[str, Any]] = [{"type": "audio", "audio": path}]
        if request.prompt:
            content.append({"type": "text", "text": request.prompt})
        system = self.values["system_prompt"] or request.system
        messages = [
            *([{"role": "system", "content": system}] if system else []),
            {"role": "human", "content": content},
            {"role": "assistant", "content": None},
        ]
        kwargs: dict[str, Any] = {"max_new_tokens": decoding.max_new_tokens, "do_sample": not decoding.greedy}
        if decoding.repetition_penalty is not None:
            kwargs["repetition_penalty"] = decoding.repetition_penalty
        if decoding.min_new_tokens is not None:
            kwargs["min_new_tokens"] = decoding.min_new_tokens
        if not decoding.greedy:
            kwargs["temperature"] = decoding.temperature
            if decoding.top_p is not None:
                kwargs["top_p"] = decoding.top_p
            if decoding.top_k is not None:
                kwargs["top_k"] = decoding.top_k
            self.torch.manual_seed(int(decoding.seed or 0))
        try:
            _, text, _ = self.model(messages, **kwargs)
        finally:
            self.wavs.remove(path)
        return (text or "").strip()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
        if self.model is not None:
            self.model = None
            self.wavs.close()


def _endpoint_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the endpoint client takes, StepFun's conventions as defaults."""
    native_only = ("model", "repo", "device")
    return {**_ENDPOINT_DEFAULTS, **{k: v for k, v in settings.items() if k not in native_only}}
