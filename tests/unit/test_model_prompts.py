"""Each model is asked as its authors ask it (issue 20, points 5 and 6).

The rendered prompt of each model, built by the adapter from the default
prompt set as a session builds it, is compared with what the upstream
example renders (strings copied from the upstream files named beside them).
"""

from __future__ import annotations

import numpy as np
import pytest

from model_adapters.kimi_audio.adapter import KimiAudioNative
from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter
from model_adapters.qwen2_audio.served import Qwen2AudioVllmAdapter
from sseu_harness.adapter import Request
from sseu_harness.spec.prompts import load_prompts
from tests.helpers.chat_server import ChatServer
from tests.helpers.tiny_models import tiny_qwen2_audio

# QwenLM/Qwen2-Audio 595360e eval_audio/evaluate_asr.py: "<|audio_bos|><|AUDIO|><|audio_eos|>" + the
# LibriSpeech prompt of its librispeech_eval.jsonl (EVALUATION.md)
QWEN_EVAL_ASR = "<|audio_bos|><|AUDIO|><|audio_eos|>Detect the language and recognize the speech: <|en|>"
# MoonshotAI/Kimi-Audio 2607d51 README.md, "Example 1: Audio-to-Text (ASR)"
KIMI_ASR = [{"role": "user", "message_type": "text", "content": "Please transcribe the following audio:"},
            {"role": "user", "message_type": "audio", "content": "test_audios/asr_example.wav"}]
# YuanGongND/ltu 2002aad, src/ltu_as/inference_batch.py: its LibriSpeech ASR question (task_dict)
LTU_AS_ASR = "Closed-ended question: Can you identify the spoken text?"


def asr(model: str) -> Request:
    prompt = load_prompts().prompt("ASR", "independent", model)
    audio = np.zeros(16_000, np.float32)
    return Request(None, audio, prompt, "ASR", "independent", 0, system=prompt.system)  # type: ignore[arg-type]


def test_the_prompt_set_version_names_the_new_instructions():
    assert load_prompts().version == "sseu-prompts-2"


def test_qwen2_audio_in_process_renders_its_eval_instruction_right_after_the_audio(tmp_path_factory):
    adapter = Qwen2AudioAdapter.__new__(Qwen2AudioAdapter)  # the chat template only: no weights needed
    from transformers import AutoProcessor

    adapter.processor = AutoProcessor.from_pretrained(tiny_qwen2_audio(tmp_path_factory))
    rendered = adapter.chat(asr("qwen2-audio").prompt)
    assert "Audio 1: " + QWEN_EVAL_ASR.replace("<|audio_eos|>", "<|audio_eos|>\n") + "<|im_end|>" in rendered
    assert rendered.endswith("<|im_start|>assistant\n")


def test_qwen2_audio_served_by_vllm_gets_the_in_process_prompt_audio_first():
    with ChatServer(answer=lambda body: "the birch canoe") as server:
        adapter = Qwen2AudioVllmAdapter(base_url=server.base_url, max_retries=0)
        adapter.answer([asr("qwen2-audio-vllm")])
        adapter.close()
        body = server.seen[-1].body
    assert body["model"] == "Qwen/Qwen2-Audio-7B-Instruct"
    (message,) = body["messages"]  # no system message: vLLM applies the template's default, as in process
    audio, text = message["content"]
    assert audio["type"] == "input_audio"
    assert text == {"type": "text", "text": QWEN_EVAL_ASR.removeprefix("<|audio_bos|><|AUDIO|><|audio_eos|>")}
    assert asr("qwen2-audio-vllm").prompt == asr("qwen2-audio").prompt


def test_kimi_audio_renders_its_readme_asr_example():
    adapter = KimiAudioNative.__new__(KimiAudioNative)  # messages only: no kimia_infer needed
    assert adapter.messages(asr("kimi-audio"), "test_audios/asr_example.wav") == KIMI_ASR


def test_ltu_as_gets_its_own_asr_question():
    assert asr("ltu-as").prompt == LTU_AS_ASR


@pytest.mark.parametrize("model", ["qwen2-audio", "qwen2-audio-vllm", "kimi-audio", "ltu-as", "step-audio2"])
def test_only_asr_is_overridden(model):
    prompts = load_prompts()
    for task in ("ASC", "AT"):
        assert prompts.prompt(task, "independent", model) == prompts.prompt(task, "independent")
