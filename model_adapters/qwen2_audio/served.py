"""`qwen2-audio-vllm`: Qwen2-Audio-7B-Instruct served by vLLM, asked as the in-process `qwen2-audio` asks it.

vLLM applies the weights' own chat template, as the processor does in
process; what this preset adds to the generic `openai` client is what the
in-process adapter does on top: the clip before the text (the template's
``Audio 1: ...`` then the prompt) and, through its name, the prompt set's
``[overrides.qwen2-audio-vllm]`` (Qwen2-Audio's own ASR instruction). Run
``vllm serve Qwen/Qwen2-Audio-7B-Instruct`` and
``--sseu-model=qwen2-audio-vllm --sseu-base-url=http://HOST:8000/v1``.
"""

from __future__ import annotations

from model_adapters.families.served import ENDPOINT_SETTINGS, ChatAdapter
from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter
from sseu_harness.models.settings import Setting


class Qwen2AudioVllmAdapter(ChatAdapter):
    name = "qwen2-audio-vllm"
    paper_system = "Qwen2-Audio-Instruct"  # the paper's system, served: its figures in every report
    default_api_model = Qwen2AudioAdapter.default_model  # vLLM's served name is the hub id unless renamed
    SETTINGS = ENDPOINT_SETTINGS.extend(
        audio_first=Setting("bool", True, help="the clip before the text, as the in-process adapter sends it"),
    )

    @classmethod
    def env_base_url(cls) -> str | None:
        return None  # OPENAI_BASE_URL belongs to the generic `openai` adapter

    @classmethod
    def serve_hint(cls) -> str:
        return f"serve it with `vllm serve {cls.default_api_model} --port 8000`"
