"""`ltu-as`: LTU-AS (Gong et al.; GitHub ``YuanGongND/ltu``), which needs an environment of its own.

LTU-AS runs on a forked transformers (a LLaMA that takes ``audio_input``) and
a forked peft, torch 1.13 and Python 3.10, with weights outside the Hugging
Face hub. It is evaluated across a process boundary:

1. in LTU-AS's environment (its ``requirements.txt``, the forked
   ``transformers`` and ``peft`` under ``src/ltu_as/hf-dev`` and
   ``src/ltu_as/peft-main``, plus ``pip install soundfile tomli``), with this
   repository on ``PYTHONPATH``::

       python -m model_adapters.serve.openai_server --model ltu-as \\
           --model-path ../../pretrained_mdls/ltuas_long_noqa_a6.bin \\
           --set repo=/path/to/ltu/src/ltu_as --port 8000

2. here: ``pytest --sseu-model=ltu-as --sseu-base-url=http://HOST:8000/v1``.

`LtuAsNative` follows the repository's ``inference_gradio.py``: Whisper
large-v1 encoder features of the clip (all layers, 20-frame mean pooling,
the first layer dropped), the Vicuna base with LoRA (r 8, alpha 16, q/v), the
``alpaca_short`` prompt template, pad/bos/eos 0/1/2. Model rules: 16 kHz,
**only the first 10 s are heard** (the clip is cut to 10 s, as the LTU-AS demo
does); greedy decoding with an explicit ``max_new_tokens`` and LTU-AS's
repetition penalty 1.1 (the repository samples at temperature 0.1; we decode
greedily so runs are deterministic); one clip at a time.

``eval_mode = "audio_only"`` (the default) gives the model no transcript, as
the paper's LTU-AS numbers imply (its WER above 80 % is what LTU-AS scores
when "the spoken text is not provided"); ``"joint"`` adds Whisper-AT
(``large-v2``) transcripts as the prompt's input, the way LTU-AS was trained.
GPU memory: about 16 GB (7 B LLaMA in float16 plus Whisper large).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from model_adapters.families.inprocess import InProcessModel
from model_adapters.families.served import ServedModelAdapter
from model_adapters.families.text import DECODING_SETTINGS, Decoding, TextAdapter
from model_adapters.utils.audio import TempWavs, cut
from model_adapters.utils.devices import choose_device
from model_adapters.utils.imports import require
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Setting

REPO = "https://github.com/YuanGongND/ltu"
MAX_SECONDS = 10.0
POOL = 20  # Whisper encoder frames averaged into one LTU-AS audio token


class LtuAsAdapter(ServedModelAdapter):
    """The client side: LTU-AS behind our model server."""

    name = "ltu-as"
    paper_system = "LTU-AS"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    native = "model_adapters.ltu_as.adapter:LtuAsNative"
    default_api_model = "ltu-as"
    default_model_path = "../../pretrained_mdls/ltuas_long_noqa_a6.bin --set repo=/path/to/ltu/src/ltu_as"
    environment = "Python 3.10, torch 1.13, LTU-AS's forked transformers and peft"


def block_mean(features: np.ndarray, size: int = POOL) -> np.ndarray:
    """Mean over blocks of `size` frames on axis 1, zero-padded at the end (skimage.measure.block_reduce)."""
    frames = features.shape[1]
    pad = (-frames) % size
    if pad:
        features = np.pad(features, ((0, 0), (0, pad), (0, 0)))
    layers, total, dim = features.shape
    return features.reshape(layers, total // size, size, dim).mean(axis=2)


class LtuAsNative(InProcessModel, TextAdapter):
    """The server side: LTU-AS in-process, as in the repository's inference_gradio.py."""

    name = "ltu-as"
    paper_system = "LTU-AS"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    batch_size = 1
    SETTINGS = DECODING_SETTINGS.extend(
        model=Setting("str", None, help="the LTU-AS checkpoint (ltuas_long_noqa_a6.bin)"),
        repo=Setting("str", None, help=f"folder src/ltu_as of a clone of {REPO}"),
        base_model=Setting("str", None, help="the Vicuna base folder (default <repo>/../../pretrained_mdls/vicuna_ltuas)"),
        whisper_checkpoint=Setting("str", None, help="Whisper large-v1 .pt (default <repo>/../../pretrained_mdls/large-v1.pt)"),
        whisper_at_model=Setting("str", "large-v2", help="Whisper-AT model for transcripts (eval_mode joint)"),
        eval_mode=Setting("str", "audio_only", choices=("audio_only", "joint")),
        repetition_penalty=Setting("pos", 1.1),
        prompt_template=Setting("str", "alpaca_short"),
        device=Setting("str", "auto"),
    )
    IDENTITY_KEYS = ("model", "eval_mode", "repetition_penalty", "prompt_template", "whisper_at_model")

    @classmethod
    def serve_hint(cls) -> str:
        return "run one model server per GPU (CUDA_VISIBLE_DEVICES=N ... --port 800N)"

    def __init__(self, **settings: Any) -> None:
        values = self.resolve(settings)
        if not values["repo"] or not values["model"]:
            raise ConfigError(
                f"model {self.name} needs repo (src/ltu_as of a clone of {REPO}) and model (the LTU-AS checkpoint)"
            )
        self.values = values
        self.setup_decoding(values)
        self.device = choose_device(self.name, values["device"], self.serve_hint())
        self.wavs = TempWavs("sseu-ltu-")
        self._load(values)
        self.settings = self.describe(values)

    def _load(self, values: dict[str, Any]) -> None:
        repo = Path(values["repo"]).resolve()
        if str(repo) not in sys.path:
            sys.path.insert(0, str(repo))  # its utils.prompter and its whisper fork
        pretrained = repo.parent.parent / "pretrained_mdls"
        torch = require("torch", self.name, "torch 1.13 in LTU-AS's environment")
        transformers = require("transformers", self.name,
                               f"LTU-AS's fork: pip install -e src/ltu_as/hf-dev/transformers-main of {REPO}")
        peft = require("peft", self.name, f"LTU-AS's fork: pip install -e src/ltu_as/peft-main of {REPO}")
        whisper_model = require("whisper.model", self.name, f"LTU-AS's whisper fork: pip install -e src/ltu_as/whisper of {REPO}")
        prompter = require("utils.prompter", self.name, f"src/ltu_as/utils of {REPO} (set repo)")
        cuda = self.device.startswith("cuda")
        self.torch = torch
        whisper_path = values["whisper_checkpoint"] or str(pretrained / "large-v1.pt")
        checkpoint = torch.load(whisper_path, map_location="cpu", weights_only=True)  # tensors only, no pickled code
        feature_model = whisper_model.Whisper(whisper_model.ModelDimensions(**checkpoint["dims"]))
        feature_model.load_state_dict(checkpoint["model_state_dict"], strict=False)
        self.feature_model = feature_model.to(self.device)
        base = values["base_model"] or str(pretrained / "vicuna_ltuas")
        self.tokenizer = transformers.LlamaTokenizer.from_pretrained(base)
        model = transformers.LlamaForCausalLM.from_pretrained(
            base, torch_dtype=torch.float16 if cuda else torch.float32).to(self.device)
        for name, param in model.named_parameters():  # as the repository: audio-encoder norms stay float32
            if "audio_encoder" in name and "ln" in name and param.dtype == torch.float16:
                param.data = param.data.float()
        lora = peft.LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.05,
                               bias="none", task_type="CAUSAL_LM")
        model = peft.get_peft_model(model, lora)
        model.load_state_dict(torch.load(values["model"], map_location="cpu", weights_only=True), strict=False)
        model.config.pad_token_id = self.tokenizer.pad_token_id = 0
        model.config.bos_token_id = 1
        model.config.eos_token_id = 2
        self.model = model.eval()
        self.prompter = prompter.Prompter(values["prompt_template"])
        self.transcriber = None
        if values["eval_mode"] == "joint":
            whisper_at = require("whisper_at", self.name, "pip install whisper-at")
            self.transcriber = whisper_at.load_model(values["whisper_at_model"], device=self.device)
        self.transformers = transformers

    def features(self, path: str) -> Any:
        torch = self.torch
        _, feats = self.feature_model.transcribe_audio(path)
        feats = torch.permute(feats[0], (2, 0, 1)).detach().cpu().numpy()  # (layers, frames, dim)
        feats = block_mean(feats)[1:]  # 20-frame means; the first layer (the input embedding) is dropped
        tensor = torch.FloatTensor(feats).unsqueeze(0)
        return tensor.half().to(self.device) if self.device.startswith("cuda") else tensor.to(self.device)

    def generate(self, requests: list[Request], decoding: Decoding) -> list[str]:
        return [self._one(r, decoding) for r in requests]

    def _one(self, request: Request, decoding: Decoding) -> str:
        torch = self.torch
        path = self.wavs.write(cut(request.audio, self.sample_rate, MAX_SECONDS), self.sample_rate)
        try:
            audio = self.features(path)
            spoken = None
            if self.transcriber is not None:
                spoken = self.transcriber.transcribe(path)["text"].strip()
        finally:
            self.wavs.remove(path)
        prompt = self.prompter.generate_prompt(request.prompt, spoken)
        input_ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(self.device)
        config = self.transformers.GenerationConfig(
            do_sample=not decoding.greedy, num_beams=1, repetition_penalty=self.values["repetition_penalty"],
            max_new_tokens=decoding.max_new_tokens, bos_token_id=1, eos_token_id=2, pad_token_id=0,
            **({} if decoding.greedy else {"temperature": decoding.temperature, "top_p": decoding.top_p or 1.0}),
        )
        if not decoding.greedy:
            torch.manual_seed(int(decoding.seed or 0))
        with torch.no_grad():
            out = self.model.generate(input_ids=input_ids, audio_input=audio, generation_config=config,
                                      return_dict_in_generate=True, max_new_tokens=decoding.max_new_tokens)
        new = out.sequences[0][input_ids.shape[1]:]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return text.partition("### Response:")[2].strip() if "### Response:" in text else text.strip()

    def close(self) -> None:
        self.model = None
        self.feature_model = None
        self.wavs.close()
