"""The built-in model names -> ``module:attr`` of their adapter classes.

Imported lazily from these strings (`sseu_harness.models.resolve`), so a
missing package hurts only its model. The plugin and the model server hand
this table to the core; other packages add models through the entry-point
group ``sseu_harness.models`` (docs/models/your-adapter.md).
"""

from __future__ import annotations

BUILTIN: dict[str, str] = {
    "oracle": "model_adapters.oracle.adapter:OracleAdapter",
    "chance": "model_adapters.chance.adapter:ChanceAdapter",
    "qwen2-audio": "model_adapters.qwen2_audio.adapter:Qwen2AudioAdapter",
    "qwen2-audio-vllm": "model_adapters.qwen2_audio.served:Qwen2AudioVllmAdapter",
    "kimi-audio": "model_adapters.kimi_audio.adapter:KimiAudioAdapter",
    "step-audio2": "model_adapters.step_audio2.adapter:StepAudio2Adapter",
    "ltu-as": "model_adapters.ltu_as.adapter:LtuAsAdapter",
    "clap": "model_adapters.clap.adapter:MsClapAdapter",
    "laion-clap": "model_adapters.laion_clap.adapter:LaionClapAdapter",
    "mga-clap": "model_adapters.mga_clap.adapter:MgaClapAdapter",
    "whisper": "model_adapters.whisper.adapter:WhisperAdapter",
    "faster-whisper": "model_adapters.faster_whisper.adapter:FasterWhisperAdapter",
    "openai": "model_adapters.openai_compatible.adapter:OpenAIChatAdapter",
}
