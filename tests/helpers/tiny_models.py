"""Tiny random models built from configs, saved to a folder, for the adapters' own from_pretrained paths.

No weights can be downloaded here, so the tests build models of the real
architectures (Qwen2-Audio, Whisper, CLAP) with a few thousand random
parameters, save them with ``save_pretrained`` next to a processor (a
byte-level BPE tokenizer built with `tokenizers` and the real feature
extractor), and let the adapters load them back like any checkpoint. Their
answers are garbage; the code paths are the real ones. Weights are drawn with
a large ``initializer_range`` so that different inputs give different tokens
(with the default 0.02 every clip yields the same answer, and batch-equality
tests would prove nothing).

Each builder is cached in the session's base temp folder (per xdist worker).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def cached(tmp_path_factory, name: str, build) -> Path:
    folder = tmp_path_factory.getbasetemp() / "tiny-models" / name
    if not (folder / "config.json").exists():
        scratch = folder.with_name(name + f".part-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        build(scratch)
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
    return folder


def _byte_level_tokenizer(special: list[str], pre_special: list[str] | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(pre_special or [])}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))  # every byte is in the vocabulary: no unknowns
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(special)
    return tokenizer


QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]


def build_qwen2_audio(folder: Path, seed: int = 0, generation_defaults: dict | None = None) -> Path:
    """Qwen2-Audio: the real processor (Whisper features, 128 mels) and a 2-layer Qwen2 text model."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        Qwen2TokenizerFast,
        WhisperFeatureExtractor,
    )

    tokenizer = Qwen2TokenizerFast(tokenizer_object=_byte_level_tokenizer(QWEN_SPECIAL), eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None, bos_token=None)
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    config = Qwen2AudioConfig(
        audio_config=dict(num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                          d_model=16, max_source_positions=1500, initializer_range=0.5),
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, initializer_range=0.5),
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
        initializer_range=0.5,
    )
    torch.manual_seed(seed)
    model = Qwen2AudioForConditionalGeneration(config)
    generation = dict(eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                      pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    generation.update(generation_defaults or {})
    model.generation_config = GenerationConfig(**generation)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


WHISPER_SPECIAL = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
                   "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]


def build_whisper(folder: Path, seed: int = 0) -> Path:
    """Whisper: the real processor (80 mels), one encoder and one decoder layer, a multilingual generation config."""
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizerFast,
    )

    tokenizer = WhisperTokenizerFast(tokenizer_object=_byte_level_tokenizer(WHISPER_SPECIAL), bos_token="<|endoftext|>",
                                     eos_token="<|endoftext|>", unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in WHISPER_SPECIAL}
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer)
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_source_positions=1500, max_target_positions=448, pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"], init_std=0.5, begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"], max_length=448,
        lang_to_id={"<|en|>": ids["<|en|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        is_multilingual=True, no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


CLAP_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def build_clap(folder: Path, fusion: bool = False, seed: int = 0) -> Path:
    """CLAP: the real ClapFeatureExtractor (48 kHz, 10 s, 64 mels) and a RoBERTa-style byte-level tokenizer."""
    import torch
    from tokenizers import processors
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizerFast

    raw = _byte_level_tokenizer(CLAP_SPECIAL, pre_special=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    raw.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tokenizer = RobertaTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                     cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=48_000, max_length_s=10,
                                     truncation="fusion" if fusion else "rand_trunc", padding="repeatpad")
    processor = ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer)
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=80, pad_token_id=1, bos_token_id=0,
                         eos_token_id=2),
        audio_config=dict(patch_embeds_hidden_size=8, depths=[1, 1], num_attention_heads=[1, 2], hidden_size=16,
                          window_size=8, spec_size=256, num_mel_bins=64, enable_fusion=fusion,
                          fusion_type="aff_2d" if fusion else None),
        projection_dim=8,
    )
    torch.manual_seed(seed)
    model = ClapModel(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def tiny_qwen2_audio(tmp_path_factory) -> Path:
    return cached(tmp_path_factory, "qwen2-audio", build_qwen2_audio)


def tiny_whisper(tmp_path_factory) -> Path:
    return cached(tmp_path_factory, "whisper", build_whisper)


def tiny_clap(tmp_path_factory, fusion: bool = False) -> Path:
    return cached(tmp_path_factory, "clap-fusion" if fusion else "clap", lambda f: build_clap(f, fusion=fusion))
