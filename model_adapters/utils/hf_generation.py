"""transformers helpers: loading settings, batched left-padded generation, decoding only the new tokens.

Batches are left-padded (the prompt ends where generation starts for every
row) and attention-masked, so under greedy decoding a clip's answer does not
depend on its batch (``tests/unit/test_adapter_qwen2_audio.py`` proves it on a tiny
model). Decoding is set explicitly on every call: greedy unless a temperature
is given, an explicit ``max_new_tokens``, no repetition penalty unless set; the
model's own ``generation_config.json`` sampling values are used only with
``decoding = "model"`` (`recipe_of`).
"""

from __future__ import annotations

from typing import Any

from model_adapters.families.text import Decoding, Recipe
from model_adapters.utils.imports import require
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Setting

DTYPES = ("auto", "float32", "float16", "bfloat16")

LOAD_SETTINGS = dict(
    model=Setting("str", None, help="hub id or local folder"),
    revision=Setting("str", None, help="hub revision (branch, tag or commit); ignored for a local folder"),
    dtype=Setting("str", "auto", choices=DTYPES, help="auto = bfloat16 on a GPU, float32 on the CPU"),
    device=Setting("str", "auto", help="auto, cpu, cuda or cuda:N"),
    trust_remote_code=Setting("bool", False, help="run code from the model repository (only when set true)"),
)


def torch_dtype(name: str, device: str) -> Any:
    torch = require("torch", "transformers models", "pip install torch")
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def resolved_dtype_name(name: str, device: str) -> str:
    return str(torch_dtype(name, device)).replace("torch.", "")


def pretrained_kwargs(settings: dict, dtype: Any | None = None) -> dict:
    """Keyword arguments of ``from_pretrained``: revision, dtype, trust_remote_code (False unless set)."""
    transformers = require("transformers", "transformers models", "pip install transformers")
    kwargs: dict[str, Any] = {"trust_remote_code": bool(settings.get("trust_remote_code", False))}
    if settings.get("revision"):
        kwargs["revision"] = settings["revision"]
    if dtype is not None:
        major = int(transformers.__version__.split(".")[0])
        kwargs["dtype" if major >= 5 else "torch_dtype"] = dtype
    return kwargs


def loaded_revision(model: Any) -> str | None:
    """The hub commit the weights came from (transformers records it on the config), if any."""
    return getattr(getattr(model, "config", None), "_commit_hash", None)


def generation_config(decoding: Decoding, pad_token_id: int | None, eos_token_id: Any) -> Any:
    """An explicit ``GenerationConfig``: greedy, or seeded sampling when temperature > 0.

    Every value that shapes the answer is set, so the model's own
    ``generation_config.json`` (Qwen2-Audio-Instruct ships sampling defaults and
    a repetition penalty) cannot slip in unasked: transformers fills only the
    values left unset. Neutral values are written out rather than left unset;
    ``decoding = "model"`` asks for the weights' values by passing them here.
    """
    transformers = require("transformers", "transformers models", "pip install transformers")
    sample = not decoding.greedy
    kwargs: dict[str, Any] = {
        "max_new_tokens": decoding.max_new_tokens,
        "min_new_tokens": decoding.min_new_tokens or 0,
        "num_beams": 1,
        "repetition_penalty": decoding.repetition_penalty or 1.0,
        "no_repeat_ngram_size": 0,
        "length_penalty": 1.0,
        "do_sample": sample,
        "temperature": decoding.temperature if sample else 1.0,
        "top_p": decoding.top_p if sample and decoding.top_p is not None else 1.0,
        "top_k": (decoding.top_k or 0) if sample else 50,  # 0: no top-k cut
    }
    if pad_token_id is not None:
        kwargs["pad_token_id"] = pad_token_id
    if eos_token_id is not None:
        kwargs["eos_token_id"] = eos_token_id
    return transformers.GenerationConfig(**kwargs)


def recipe_of(model: Any) -> Recipe:
    """The sampling values of the loaded weights' ``generation_config.json`` (``decoding = "model"``).

    Read at load time, not copied into our code: a new revision of the
    weights brings its own. Values the file leaves out are transformers'
    defaults, as ``generate`` would use them.
    """
    config = model.generation_config
    values: dict[str, Any] = {"temperature": float(config.temperature or 1.0) if config.do_sample else 0.0}
    if config.do_sample:
        values.update(top_p=config.top_p, top_k=config.top_k)
    if config.repetition_penalty not in (None, 1.0):
        values["repetition_penalty"] = float(config.repetition_penalty)
    if getattr(config, "min_new_tokens", None):
        values["min_new_tokens"] = int(config.min_new_tokens)
    return Recipe("generation_config.json of the loaded weights", values)


def generate_new_tokens(model: Any, inputs: dict, decoding: Decoding, pad_token_id: int | None,
                        eos_token_id: Any) -> Any:
    """Run ``generate`` on a left-padded batch and return only the generated tokens (batch, new)."""
    torch = require("torch", "transformers models", "pip install torch")
    transformers = require("transformers", "transformers models", "pip install transformers")
    extra: dict[str, Any] = {}
    if int(transformers.__version__.split(".")[0]) < 5:
        # transformers 4.50+ replaces values equal to the global defaults by the model's own
        extra["use_model_defaults"] = False
    if not decoding.greedy:
        torch.manual_seed(int(decoding.seed or 0))
    with torch.inference_mode():
        out = model.generate(**inputs, generation_config=generation_config(decoding, pad_token_id, eos_token_id),
                             **extra)
    sequences = out.sequences if hasattr(out, "sequences") else out
    prompt_length = inputs["input_ids"].shape[1]
    return sequences[:, prompt_length:]


def decode(tokenizer: Any, tokens: Any) -> list[str]:
    """Text of generated tokens, special tokens (end of turn, padding) dropped, whitespace trimmed."""
    return [text.strip() for text in tokenizer.batch_decode(tokens, skip_special_tokens=True)]


def left_padding(tokenizer: Any) -> None:
    """Pad on the left: every row's prompt then ends where its answer begins."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ConfigError("the tokenizer has neither a pad nor an eos token; cannot batch")
        tokenizer.pad_token = tokenizer.eos_token
