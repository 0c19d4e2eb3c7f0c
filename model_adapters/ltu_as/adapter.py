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
``alpaca_short`` prompt template (read from ``<repo>/templates``, so the
server runs from any working directory), pad/bos/eos 0/1/2. Model rules:
16 kHz, **only the first 10 s are heard** (the clip is cut to 10 s, as the
LTU-AS demo does); decoding always goes through the fork's ``sample()`` (the
only path that hands the audio to the model), greedy as ``top_k=1``, with an
explicit ``max_new_tokens`` and LTU-AS's repetition penalty 1.1 (the
repository samples at temperature 0.1; we decode greedily so runs are
deterministic); one clip at a time.

``eval_mode = "audio_only"`` (the default) gives the model no transcript, as
the paper's LTU-AS numbers imply (its WER above 80 % is what LTU-AS scores
when "the spoken text is not provided"); ``"joint"`` adds Whisper-AT
(``large-v2``) transcripts as the prompt's input, the way LTU-AS was trained,
after upstream's "thanks for watching" filter (`remove_thanks_for_watching`).
GPU memory: about 16 GB (7 B LLaMA in float16 plus Whisper large).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from model_adapters.families.inprocess import InProcessModel
from model_adapters.families.served import ServedModelAdapter
from model_adapters.families.text import DECODING_SETTINGS, Decoding, Recipe, TextAdapter
from model_adapters.utils.audio import TempWavs, cut
from model_adapters.utils.devices import choose_device
from model_adapters.utils.imports import require
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Setting

REPO = "https://github.com/YuanGongND/ltu"
MAX_SECONDS = 10.0
POOL = 20  # Whisper encoder frames averaged into one LTU-AS audio token
UPSTREAM = "YuanGongND/ltu 2002aad"  # the commit the code below was read against

# Whisper's "thanks for watching" hallucination, in the casings and endings that upstream removes from the
# transcript before it goes into the prompt (src/ltu_as/inference_gradio.py, remove_thanks_for_watching, 2002aad).
_THANKS = sorted((case(phrase) + end for phrase in ("thanks for watching", "thank you for watching")
                  for case in (str.lower, str.capitalize, str.upper) for end in ("", ".", "!")),
                 key=len, reverse=True)
_THANKS_PATTERN = re.compile("|".join(re.escape(v) for v in _THANKS))

# YuanGongND/ltu 2002aad, src/ltu_as/inference_gradio.py and inference_batch.py: always sampled so
INFERENCE_SCRIPTS = Recipe("LTU-AS inference scripts (YuanGongND/ltu 2002aad, src/ltu_as/inference_batch.py)",
                           {"temperature": 0.1, "top_p": 0.95, "top_k": 500, "repetition_penalty": 1.1})


class LtuAsAdapter(ServedModelAdapter):
    """The client side: LTU-AS behind our model server."""

    name = "ltu-as"
    paper_system = "LTU-AS"  # the paper's name of this system (its figures in every report)
    sample_rate = 16_000
    native = "model_adapters.ltu_as.adapter:LtuAsNative"
    default_api_model = "ltu-as"
    default_model_path = "../../pretrained_mdls/ltuas_long_noqa_a6.bin --set repo=/path/to/ltu/src/ltu_as"
    environment = "Python 3.10, torch 1.13, LTU-AS's forked transformers and peft"
    RECIPE = INFERENCE_SCRIPTS


def block_mean(features: np.ndarray, size: int = POOL) -> np.ndarray:
    """Mean over blocks of `size` frames on axis 1, zero-padded at the end (skimage.measure.block_reduce)."""
    frames = features.shape[1]
    pad = (-frames) % size
    if pad:
        features = np.pad(features, ((0, 0), (0, pad), (0, 0)))
    layers, total, dim = features.shape
    return features.reshape(layers, total // size, size, dim).mean(axis=2)


def remove_thanks_for_watching(text: str) -> str:
    """Upstream's filter of Whisper's closing-credits hallucination, exact casings only (as upstream)."""
    return _THANKS_PATTERN.sub("", text)


def read_template(repo: Path, name: str) -> dict[str, str]:
    """The prompt template ``<repo>/templates/<name>.json``, read from the checkout, not the working directory.

    Upstream's `Prompter` (src/ltu_as/utils/prompter.py, YuanGongND/ltu 2002aad) opens
    ``../templates`` or ``./templates`` relative to the working directory, so it
    only starts inside src/ltu_as.
    """
    path = repo / "templates" / f"{name}.json"
    if not path.is_file():
        raise ConfigError(
            f"model ltu-as: {path} does not exist: set repo to the src/ltu_as folder of a clone of {REPO} "
            f"(it holds templates/), or prompt_template to one of its templates"
        )
    template = json.loads(path.read_text(encoding="utf-8"))
    if not {"prompt_input", "prompt_no_input"} <= set(template):
        raise ConfigError(f"model ltu-as: {path} lacks prompt_input or prompt_no_input: not an LTU-AS template")
    return template


def build_prompt(template: dict[str, str], instruction: str, spoken: str | None) -> str:
    """`Prompter.generate_prompt` of upstream (utils/prompter.py, 2002aad): the input section only for a transcript."""
    if spoken:
        return template["prompt_input"].format(instruction=instruction, input=spoken)
    return template["prompt_no_input"].format(instruction=instruction)


def generation_settings(decoding: Decoding, repetition_penalty: float) -> dict[str, Any]:
    """`GenerationConfig` arguments that always take the fork's ``sample()`` path; greedy is ``top_k=1``.

    LTU-AS's forked transformers hands ``audio_input`` only to ``sample()``: the
    greedy branch of ``generate`` calls ``prepare_inputs_for_generation`` without
    it (src/ltu_as/hf-dev/transformers-main/src/transformers/generation/utils.py,
    ``generate`` and ``sample``), and the fork's LLaMA takes it as a required
    argument (.../models/llama/modeling_llama.py, ``prepare_inputs_for_generation``;
    YuanGongND/ltu 2002aad), so ``do_sample=False`` raises TypeError at the first
    token. Sampling among the single most likely token is greedy decoding;
    temperature and top_p stay neutral then (the fork warps only when they differ from 1).
    """
    settings: dict[str, Any] = dict(do_sample=True, num_beams=1,
                                    repetition_penalty=decoding.repetition_penalty or repetition_penalty,
                                    max_new_tokens=decoding.max_new_tokens, bos_token_id=1, eos_token_id=2,
                                    pad_token_id=0)
    if decoding.min_new_tokens is not None:
        settings.update(min_new_tokens=decoding.min_new_tokens)
    if decoding.greedy:
        settings.update(top_k=1, temperature=1.0, top_p=1.0)
    else:  # top_k 0: no cut unless asked (transformers' own default would be 50)
        settings.update(temperature=decoding.temperature, top_p=decoding.top_p or 1.0, top_k=decoding.top_k or 0)
    return settings


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
    RECIPE = INFERENCE_SCRIPTS

    @classmethod
    def serve_hint(cls) -> str:
        return "run one model server per GPU (CUDA_VISIBLE_DEVICES=N ... --port 800N)"

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        out = super().describe(values)
        if values.get("eval_mode") == "joint":  # the transcript's rule: a change to it changes the prompts
            out["transcript_filter"] = f"remove_thanks_for_watching ({UPSTREAM})"
        return out

    def __init__(self, **settings: Any) -> None:
        values = self.resolve(settings)
        if not values["repo"] or not values["model"]:
            raise ConfigError(
                f"model {self.name} needs repo (src/ltu_as of a clone of {REPO}) and model (the LTU-AS checkpoint)"
            )
        repo = Path(values["repo"]).resolve()
        pretrained = repo.parent.parent / "pretrained_mdls"  # where upstream's scripts look
        values["base_model"] = values["base_model"] or str(pretrained / "vicuna_ltuas")
        values["whisper_checkpoint"] = values["whisper_checkpoint"] or str(pretrained / "large-v1.pt")
        self.values = values  # every file named: the server's identity fingerprints them
        self.template = read_template(repo, values["prompt_template"])
        self.setup_decoding(values)
        self.device = choose_device(self.name, values["device"], self.serve_hint())
        self.wavs = TempWavs("sseu-ltu-")
        self._load(values)
        self.settings = self.describe(values)

    def _load(self, values: dict[str, Any]) -> None:
        repo = Path(values["repo"]).resolve()
        if str(repo) not in sys.path:
            sys.path.insert(0, str(repo))  # its whisper fork
        torch = require("torch", self.name, "torch 1.13 in LTU-AS's environment")
        transformers = require("transformers", self.name,
                               f"LTU-AS's fork: pip install -e src/ltu_as/hf-dev/transformers-main of {REPO}")
        peft = require("peft", self.name, f"LTU-AS's fork: pip install -e src/ltu_as/peft-main of {REPO}")
        whisper_model = require("whisper.model", self.name, f"LTU-AS's whisper fork: pip install -e src/ltu_as/whisper of {REPO}")
        cuda = self.device.startswith("cuda")
        self.torch = torch
        checkpoint = torch.load(values["whisper_checkpoint"], map_location="cpu", weights_only=True)  # tensors only, no pickled code
        feature_model = whisper_model.Whisper(whisper_model.ModelDimensions(**checkpoint["dims"]))
        feature_model.load_state_dict(checkpoint["model_state_dict"], strict=False)
        self.feature_model = feature_model.to(self.device)
        base = values["base_model"]
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
                # as upstream's load_audio_trans (inference_gradio.py, 2002aad)
                spoken = remove_thanks_for_watching(self.transcriber.transcribe(path)["text"].lstrip())
        finally:
            self.wavs.remove(path)
        prompt = build_prompt(self.template, request.prompt, spoken)
        input_ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(self.device)
        config = self.transformers.GenerationConfig(**generation_settings(decoding, self.values["repetition_penalty"]))
        torch.manual_seed(int(decoding.seed or 0))  # sample() draws even at top_k=1
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
