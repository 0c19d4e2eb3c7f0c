"""`qwen2-audio`: Qwen/Qwen2-Audio-7B-Instruct in-process, through transformers.

Model rules followed here:

- 16 kHz mono; the processor pads or cuts the log-mel features to 30 s, so a
  longer clip would lose its end silently: the adapter cuts it to the first
  30 s itself (``max_audio_seconds``, at most 30) and says so here. SSEU-Bench
  clips last 10 s, the demo's 8 s: nothing is cut.
- ChatML through the processor's chat template: one user turn holding the
  clip (``Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>``) then the prompt, the
  template's default system turn, and the assistant turn opened.
- Batches are left-padded; greedy decoding with an explicit ``max_new_tokens``
  (256 independent / 256 joint / 1024 CoT by default), no repetition penalty;
  only the new tokens are decoded. The model's sampling defaults in its
  ``generation_config.json`` are used only with ``decoding = "model"``: the
  model card calls ``generate(**inputs, max_length=256)``, which inherits them
  (QwenLM/Qwen2-Audio 595360e, README.md), so they are read from the loaded
  weights at load time and recorded in ``settings["recipe_values"]``.
- ASR uses the prompt set's ``[overrides.qwen2-audio]`` instruction, the one of
  Qwen2-Audio's own LibriSpeech evaluation (``eval_audio/evaluate_asr.py``).

GPU memory: about 17 GB of weights in bfloat16, 20-24 GB with batch 8.
vLLM serves the same model natively (see docs/models/qwen2-audio.md).
"""

from __future__ import annotations

from typing import Any

from model_adapters.families.inprocess import InProcessModel
from model_adapters.families.text import DECODING_SETTINGS, Decoding, Recipe, TextAdapter
from model_adapters.utils.audio import cut
from model_adapters.utils.devices import choose_device
from model_adapters.utils.hf_generation import (
    LOAD_SETTINGS,
    decode,
    generate_new_tokens,
    left_padding,
    loaded_revision,
    pretrained_kwargs,
    recipe_of,
    resolved_dtype_name,
    torch_dtype,
)
from model_adapters.utils.imports import require
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Setting

MAX_SECONDS = 30.0  # the Whisper-style encoder's window


class Qwen2AudioAdapter(InProcessModel, TextAdapter):
    name = "qwen2-audio"
    paper_system = "Qwen2-Audio-Instruct"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    batch_size = 8
    deterministic = True  # greedy by default
    takes_system_prompt = True  # a served client's system message replaces the template's default
    default_model = "Qwen/Qwen2-Audio-7B-Instruct"
    HUB_FILE = "config.json"
    SETTINGS = DECODING_SETTINGS.extend(
        **LOAD_SETTINGS,
        batch_size=Setting("pos_int", 8, help="clips per generate call (left-padded)"),
        max_audio_seconds=Setting("pos", MAX_SECONDS, help="cut clips to their first N s (at most 30)"),
    )
    IDENTITY_KEYS = ("model", "revision", "dtype", "max_audio_seconds")
    # the Instruct model card's generate() inherits generation_config.json (QwenLM/Qwen2-Audio 595360e, README.md)
    RECIPE = Recipe("generation_config.json of the loaded weights", deferred=True)

    def __init__(self, **settings: Any) -> None:
        values = self.resolve(settings)
        if values["max_audio_seconds"] > MAX_SECONDS:
            raise ConfigError(f"model {self.name}: max_audio_seconds is at most {MAX_SECONDS:g} (the encoder's window)")
        self.values = values
        self.setup_decoding(values)
        self.batch_size = values["batch_size"]
        self.device = choose_device(self.name, values["device"], self.serve_hint())
        require("torch", self.name, "pip install torch")
        transformers = require("transformers", self.name, "pip install 'transformers>=4.45'")
        model_class = getattr(transformers, "Qwen2AudioForConditionalGeneration", None)
        if model_class is None:
            raise ConfigError(f"model {self.name} needs transformers >= 4.45 (Qwen2-Audio): pip install -U transformers")
        dtype = torch_dtype(values["dtype"], self.device)
        self.processor = transformers.AutoProcessor.from_pretrained(values["model"], **pretrained_kwargs(values))
        left_padding(self.processor.tokenizer)
        self.model = model_class.from_pretrained(values["model"], **pretrained_kwargs(values, dtype)).to(self.device)
        self.model.eval()
        self.dtype = dtype
        self.settings = {**self.describe(values), "resolved_dtype": resolved_dtype_name(values["dtype"], self.device),
                         "commit": loaded_revision(self.model)}
        if values["decoding"] == "model":
            recipe = recipe_of(self.model)
            self.setup_decoding(values, recipe)
            self.settings["recipe_values"] = dict(recipe.values)

    def chat(self, prompt: str, system: str | None = None) -> str:
        """The ChatML text: the template's default system turn unless one is given, the clip, then the prompt."""
        conversation = [{"role": "user", "content": [
            {"type": "audio", "audio_url": "clip.wav"},  # a placeholder: the waveform goes to the processor
            {"type": "text", "text": prompt},
        ]}]
        if system:
            conversation.insert(0, {"role": "system", "content": system})
        return self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)

    def inputs(self, requests: list[Request]) -> Any:
        texts = [self.chat(r.prompt, r.system) for r in requests]
        audios = [cut(r.audio, self.sample_rate, self.values["max_audio_seconds"]) for r in requests]
        inputs = self.processor(text=texts, audio=audios, sampling_rate=self.sample_rate, return_tensors="pt",
                                padding=True)
        inputs = inputs.to(self.device)
        if "input_features" in inputs:
            inputs["input_features"] = inputs["input_features"].to(self.dtype)
        return inputs

    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        if not requests:
            return []
        tokenizer = self.processor.tokenizer
        new = generate_new_tokens(self.model, self.inputs(requests), decoding, tokenizer.pad_token_id,
                                  self.model.generation_config.eos_token_id)
        return decode(tokenizer, new)

    def close(self) -> None:
        self.model = None
        self.processor = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
