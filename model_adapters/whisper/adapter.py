"""`whisper`: Whisper as an ASR-only baseline, in-process through transformers.

Model rules followed here:

- 16 kHz mono, one 30 s window: the feature extractor pads or cuts to 30 s,
  and long-form (sequential) decoding is not used, so the adapter cuts a clip
  to its first 30 s itself and says so here (SSEU-Bench clips last 10 s).
- Only ASR, only independent mode (it follows no instructions): its ASC, AT,
  joint and CoT cases are skipped with that reason.
- ``language="en"``, ``task="transcribe"``, no timestamps, greedy decoding
  with an explicit ``max_new_tokens`` (Whisper's own limit is 448 tokens per
  window; the default budget here is 128, a 30 s window holds ~90 words).
- The prompt is not an instruction for Whisper: text in its prompt slot is
  decoded as the preceding transcript. The prompt set gives it none
  (``[overrides.whisper] ASR = ""``); a non-empty one is passed as
  ``prompt_ids`` (previous-text conditioning) and not counted in the answer.
- Batched with an attention mask; outputs do not depend on the batch.

GPU memory: large-v3 is 1.55 B parameters, about 3.2 GB in float16.
"""

from __future__ import annotations

from typing import Any

from model_adapters.families.inprocess import InProcessModel
from model_adapters.families.text import Decoding, TextAdapter
from model_adapters.utils.audio import cut
from model_adapters.utils.devices import choose_device
from model_adapters.utils.hf_generation import (
    LOAD_SETTINGS,
    loaded_revision,
    pretrained_kwargs,
    resolved_dtype_name,
    torch_dtype,
)
from model_adapters.utils.imports import require
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Schema, Setting

MAX_SECONDS = 30.0


class WhisperAdapter(InProcessModel, TextAdapter):
    name = "whisper"
    sample_rate = 16_000
    tasks = ("ASR",)
    modes = ("independent",)
    batch_size = 16
    deterministic = True
    default_model = "openai/whisper-large-v3"
    HUB_FILE = "config.json"
    SETTINGS = Schema(
        **LOAD_SETTINGS,
        batch_size=Setting("pos_int", 16),
        max_new_tokens=Setting("pos_int", 128, help="tokens per transcript (at most 440)"),
        language=Setting("str", "en"),
        max_audio_seconds=Setting("pos", MAX_SECONDS, help="cut clips to their first N s (at most 30)"),
    )
    IDENTITY_KEYS = ("model", "revision", "dtype", "language", "max_audio_seconds", "max_new_tokens")
    text_model = False  # greedy only; no sampling settings

    @classmethod
    def serve_hint(cls) -> str:
        return (f"serve it once with `vllm serve {cls.default_model} --port 8000` (vLLM's transcription API) "
                "or run it with -n equal to the number of GPUs")

    def __init__(self, **settings: Any) -> None:
        values = self.resolve(settings)
        if values["max_audio_seconds"] > MAX_SECONDS:
            raise ConfigError(f"model {self.name}: max_audio_seconds is at most {MAX_SECONDS:g} (one Whisper window)")
        if values["max_new_tokens"] > 440:
            raise ConfigError(f"model {self.name}: max_new_tokens is at most 440 (448 minus the task tokens)")
        self.values = values
        self.max_new_tokens = values["max_new_tokens"]
        self.batch_size = values["batch_size"]
        self.device = choose_device(self.name, values["device"], self.serve_hint())
        self.torch = require("torch", self.name, "pip install torch")
        transformers = require("transformers", self.name, "pip install transformers")
        self.dtype = torch_dtype(values["dtype"], self.device)
        self.processor = transformers.AutoProcessor.from_pretrained(values["model"], **pretrained_kwargs(values))
        self.model = transformers.WhisperForConditionalGeneration.from_pretrained(
            values["model"], **pretrained_kwargs(values, self.dtype)).to(self.device)
        self.model.eval()
        self.settings = {**self.describe(values), "resolved_dtype": resolved_dtype_name(values["dtype"], self.device),
                         "commit": loaded_revision(self.model)}

    def answer(self, requests: list[Request]) -> list[str]:
        return self.generate(requests, Decoding(max_new_tokens=self.max_new_tokens))

    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        """Transcripts; requests are grouped by prompt (one prompt per generate call)."""
        answers = [""] * len(requests)
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(request.prompt, []).append(index)
        for prompt, indices in groups.items():
            texts = self._transcribe([requests[i].audio for i in indices], prompt, decoding)
            for i, text in zip(indices, texts):
                answers[i] = text
        return answers

    def _transcribe(self, clips: list, prompt: str, decoding: Decoding) -> list[str]:
        torch = self.torch
        audios = [cut(a, self.sample_rate, self.values["max_audio_seconds"]) for a in clips]
        features = self.processor.feature_extractor(audios, sampling_rate=self.sample_rate, return_tensors="pt",
                                                    return_attention_mask=True)
        kwargs: dict[str, Any] = {
            "attention_mask": features["attention_mask"].to(self.device),
            "language": self.values["language"],
            "task": "transcribe",
            "return_timestamps": False,
            "max_new_tokens": min(decoding.max_new_tokens, 440),
            "do_sample": False,
            "num_beams": 1,
        }
        if prompt.strip():
            kwargs["prompt_ids"] = torch.as_tensor(self.processor.get_prompt_ids(prompt), device=self.device)
        with torch.inference_mode():
            out = self.model.generate(features["input_features"].to(self.device, self.dtype), **kwargs)
        sequences = out.sequences if hasattr(out, "sequences") else out
        texts = self.processor.batch_decode(sequences, skip_special_tokens=True)
        if prompt.strip():  # the prompt tokens come back in front of the transcript
            texts = [t.strip()[len(prompt.strip()):] if t.strip().startswith(prompt.strip()) else t for t in texts]
        return [t.strip() for t in texts]

    def close(self) -> None:
        self.model = None
        self.processor = None
