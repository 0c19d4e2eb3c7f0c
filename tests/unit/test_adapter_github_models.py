"""Adapters whose code cannot be installed here (msclap, MGA-CLAP, kimia_infer, Step-Audio 2, LTU-AS).

Their real code stays behind lazy imports. These tests put stand-in modules
with the same API where the real ones would be (a package on ``sys.path``, a
cloned-repository folder given as ``repo``) and check everything around the
model call: which API is called with what (file paths, messages, decoding),
what the audio looks like when it gets there, and how the answers come back.
"""

from __future__ import annotations

import json
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from model_adapters.families.clap import class_scores
from model_adapters.families.text import Decoding
from model_adapters.utils.served_identity import NOTHING
from sseu_harness.adapter import Request
from sseu_harness.errors import ConfigError
from sseu_harness.spec.prompts import load_prompts
from tests.helpers.chat_server import ChatServer


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def fresh_modules():
    """Forget stand-in modules after each test, so no other test imports them by accident."""
    before, path = set(sys.modules), list(sys.path)
    yield
    sys.path[:] = path  # the adapters put a `repo` folder on sys.path
    for name in set(sys.modules) - before:
        if name.split(".")[0] in ("msclap", "models", "kimia_infer", "stepaudio2", "utils"):
            del sys.modules[name]


def req(audio: np.ndarray, prompt: str = "Which scene?", task: str | None = "ASC", seed: int = 0) -> Request:
    return Request(None, audio, prompt, task, "independent", seed)  # type: ignore[arg-type]


def req_as_run(audio: np.ndarray, model: str, task: str = "ASR") -> Request:
    """The request a benchmark session makes: the default prompt set's text and system turn for `model`."""
    prompt = load_prompts().prompt(task, "independent", model)
    return Request(None, audio, prompt, task, "independent", 0, system=prompt.system)  # type: ignore[arg-type]


# StepFun's examples.py (stepfun-ai/Step-Audio2 7c58630), as FACTS.md records them
STEPFUN_ASR_SYSTEM = "请记录下你所听到的语音内容。"
STEPFUN_ANALYSIS_SYSTEM = ("You are an expert in audio analysis, please analyze the audio content and answer the "
                           "questions accurately.")


def ramp(seconds: float, rate: int) -> np.ndarray:
    return (np.arange(int(seconds * rate)) / (seconds * rate)).astype(np.float32)


# --- MS-CLAP (msclap) -------------------------------------------------------------------------------

MSCLAP = {
    "msclap/__init__.py": '''
        import argparse
        import numpy as np
        import torch

        CALLS = []

        class CLAP:
            def __init__(self, model_fp=None, version="2023", use_cuda=False):
                CALLS.append(("init", model_fp, version, use_cuda))
                self.args = argparse.Namespace(sampling_rate=44100, duration=7 if version == "2023" else 5)

            def get_text_embeddings(self, class_labels):
                CALLS.append(("text", list(class_labels)))
                return torch.tensor([[len(t), t.count("e") + 1.0, 1.0] for t in class_labels])

            def _get_audio_embeddings(self, preprocessed_audio):
                CALLS.append(("audio", tuple(preprocessed_audio.shape), preprocessed_audio.clone()))
                x = preprocessed_audio[:, 0, :]
                return torch.stack([x.mean(1) * 10, x.std(1), x[:, :1].squeeze(1) + 1], dim=1)
    ''',
}


def test_ms_clap_hears_a_deterministic_window_through_msclaps_api(tmp_path, monkeypatch, fresh_modules):
    monkeypatch.syspath_prepend(str(write_tree(tmp_path, MSCLAP)))
    from model_adapters.clap.adapter import MsClapAdapter

    adapter = MsClapAdapter(device="cpu", weights="/weights/CLAP_weights_2023.pth")
    fake = sys.modules["msclap"]
    assert fake.CALLS[0] == ("init", "/weights/CLAP_weights_2023.pth", "2023", False)
    assert adapter.sample_rate == 44_100 and adapter.window_seconds == 7.0
    long, short = ramp(10, 44_100), ramp(3, 44_100)
    scores = adapter.answer([req(long), req(short)])
    text_calls = [c[1] for c in fake.CALLS if c[0] == "text"]
    assert text_calls[0][0] == "home" and len(text_calls[0]) == 6 and len(text_calls[1]) == 18
    (_, shape, batch), = [c for c in fake.CALLS if c[0] == "audio"]
    assert shape == (2, 1, 7 * 44_100)
    window = long[int(1.5 * 44_100) : int(8.5 * 44_100)]  # the centre 7 s of 10 s
    np.testing.assert_array_equal(batch[0, 0].numpy(), window)
    np.testing.assert_array_equal(batch[1, 0].numpy(), np.tile(short, 3)[: 7 * 44_100])  # msclap's repeat padding
    audio_emb = np.stack([[window.mean() * 10, window.std(ddof=1), window[0] + 1]])
    texts = np.array([[len(t), t.count("e") + 1.0, 1.0] for t in adapter.scene_texts])
    events = np.array([[len(t), t.count("e") + 1.0, 1.0] for t in adapter.event_texts])
    expected = class_scores(audio_emb, texts, events)[0]
    np.testing.assert_allclose(scores[0].scenes, expected.scenes, rtol=1e-5)
    np.testing.assert_allclose(scores[0].events, expected.events, rtol=1e-5)
    assert MsClapAdapter.unsupported("ASR", "independent") == "clap does not do ASR"


def test_ms_clap_without_msclap_says_what_to_install(fresh_modules):
    from model_adapters.clap.adapter import MsClapAdapter

    message = r"^model clap needs package msclap: pip install msclap \(keep your torch: -c constraints.txt on a CPU machine\)$"
    with pytest.raises(ConfigError, match=message):
        MsClapAdapter(device="cpu")
    with pytest.raises(ConfigError, match=message):  # already when the session starts
        MsClapAdapter.check_settings({})


# --- MGA-CLAP (a cloned repository) -----------------------------------------------------------------

MGA = {
    "models/__init__.py": "",
    "models/ase_model.py": '''
        import torch
        CALLS = []

        class ASE(torch.nn.Module):
            def __init__(self, config):
                super().__init__()
                CALLS.append(("init", config["device"], config["audio_args"]["sr"]))
                self.codebook = torch.ones(3)
                self.scale = torch.nn.Parameter(torch.ones(1))

            def encode_text(self, texts):
                CALLS.append(("text", list(texts)))
                words = torch.tensor([[[len(t), 1.0, t.count("o") + 0.5]] * 2 for t in texts])
                return None, words, torch.ones(len(texts), 2)

            def encode_audio(self, audio):
                CALLS.append(("audio", tuple(audio.shape), audio.clone()))
                frames = torch.stack([audio.mean(1), audio.abs().max(1).values, audio[:, -1] + 2], dim=1)
                return None, frames[:, None, :].repeat(1, 4, 1)

            def msc(self, x, codebook, mask=None):
                return x.mean(1) * self.scale
    ''',
    "settings/inference_example.yaml": "device: cuda\naudio_args:\n  sr: 32000\n  max_length: 10\n",
}


def test_mga_clap_uses_the_repositorys_zero_shot_calls(tmp_path, fresh_modules):
    import torch

    repo = write_tree(tmp_path / "MGA-CLAP", MGA)
    torch.save({"model": {"scale": torch.ones(1)}}, tmp_path / "model.pt")
    from model_adapters.mga_clap.adapter import MgaClapAdapter

    adapter = MgaClapAdapter(repo=str(repo), model=str(tmp_path / "model.pt"), device="cpu")
    fake = sys.modules["models.ase_model"]
    assert fake.CALLS[0] == ("init", "cpu", 32000)
    short, long = ramp(4, 32_000), ramp(12, 32_000)
    adapter.answer([req(short), req(long)])
    (_, shape, batch), = [c for c in fake.CALLS if c[0] == "audio"]
    assert shape == (2, 320_000)
    np.testing.assert_array_equal(batch[0, :128_000].numpy(), short)
    assert not batch[0, 128_000:].any()  # zero-padded to 10 s, as the repository's zero-shot script
    np.testing.assert_array_equal(batch[1].numpy(), long[32_000:352_000])  # centre 10 s of 12 s


def test_mga_clap_needs_its_repository_and_checkpoint(fresh_modules):
    from model_adapters.mga_clap.adapter import MgaClapAdapter

    with pytest.raises(ConfigError, match="model mga-clap needs repo"):
        MgaClapAdapter(model="/x.pt")
    with pytest.raises(ConfigError, match="model mga-clap needs model"):
        MgaClapAdapter(repo="/x")


# --- Kimi-Audio (kimia_infer) -------------------------------------------------------------------------

KIMIA = {
    "kimia_infer/__init__.py": "",
    "kimia_infer/api/__init__.py": "",
    "kimia_infer/api/kimia.py": '''
        import soundfile as sf
        CALLS = []

        class KimiAudio:
            def __init__(self, model_path, load_detokenizer=True):
                CALLS.append(("init", model_path, load_detokenizer))

            def generate(self, chats, output_type="text", **sampling):
                audio_paths = [m["content"] for m in chats if m["message_type"] == "audio"]
                audio, rate = sf.read(audio_paths[0], dtype="float32")
                CALLS.append(("generate", chats, output_type, sampling, audio, rate))
                return None, " heard %d samples " % audio.size
    ''',
}


def test_kimi_audio_native_passes_a_wav_path_the_prompt_and_greedy_text_decoding(tmp_path, fresh_modules):
    import os

    repo = write_tree(tmp_path / "Kimi-Audio", KIMIA)
    from model_adapters.kimi_audio.adapter import KimiAudioNative

    adapter = KimiAudioNative(repo=str(repo), device="cpu")
    fake = sys.modules["kimia_infer.api.kimia"]
    assert fake.CALLS[0] == ("init", "moonshotai/Kimi-Audio-7B-Instruct", False)
    audio = ramp(2, 16_000)
    assert adapter.answer([req(audio, "Transcribe.", "ASR")]) == ["heard 32000 samples"]
    _, chats, output_type, sampling, heard, rate = fake.CALLS[-1]
    assert output_type == "text" and rate == 16_000
    np.testing.assert_array_equal(heard, audio)
    assert [m["message_type"] for m in chats] == ["text", "audio"] and chats[0]["content"] == "Transcribe."
    assert sampling["text_temperature"] == 0.0 and sampling["max_new_tokens"] == 256
    assert not os.path.exists(chats[1]["content"])  # the temporary WAV is gone
    adapter.generate([req(audio, "")], Decoding(max_new_tokens=9, temperature=0.3, seed=5))
    _, chats, _, sampling, _, _ = fake.CALLS[-1]
    assert [m["message_type"] for m in chats] == ["audio"] and sampling["text_temperature"] == 0.3
    assert sampling["max_new_tokens"] == 9
    adapter.close()


def test_kimi_audio_native_model_decoding_is_the_evalkits_and_the_penalty_is_a_setting(tmp_path, fresh_modules):
    repo = write_tree(tmp_path / "Kimi-Audio", KIMIA)
    from model_adapters.kimi_audio.adapter import KimiAudioNative

    quick_start = KimiAudioNative(repo=str(repo), device="cpu")
    quick_start.answer([req(ramp(1, 16_000), "Transcribe.", "ASR")])
    sampling = sys.modules["kimia_infer.api.kimia"].CALLS[-1][3]
    assert (sampling["text_temperature"], sampling["text_top_k"], sampling["text_repetition_penalty"],
            sampling["text_repetition_window_size"]) == (0.0, 5, 1.0, 16)  # Kimi-Audio's README quick start
    assert "text_repetition_window_size" not in quick_start.settings  # greedy identity as before

    evalkit = KimiAudioNative(repo=str(repo), device="cpu", decoding="model")
    evalkit.answer([req(ramp(1, 16_000), "Transcribe.", "ASR")])
    sampling = sys.modules["kimia_infer.api.kimia"].CALLS[-1][3]
    # Kimi-Audio-Evalkit 4080c49 almeval/models/kimi_audio.py
    assert (sampling["text_temperature"], sampling["text_top_k"], sampling["text_repetition_penalty"],
            sampling["text_repetition_window_size"]) == (0.0, 5, 1.1, 16)
    assert evalkit.settings["decoding"] == "model" and "Evalkit" in evalkit.settings["recipe"]
    assert evalkit.settings["text_repetition_window_size"] == 16 and evalkit.deterministic

    tuned = KimiAudioNative(repo=str(repo), device="cpu", text_repetition_penalty=1.2, text_repetition_window_size=8)
    tuned.answer([req(ramp(1, 16_000), "Transcribe.", "ASR")])
    sampling = sys.modules["kimia_infer.api.kimia"].CALLS[-1][3]
    assert (sampling["text_repetition_penalty"], sampling["text_repetition_window_size"]) == (1.2, 8)
    assert tuned.settings["text_repetition_penalty"] == 1.2 and tuned.settings["text_repetition_window_size"] == 8


def test_kimi_audio_native_without_its_code_points_to_github(fresh_modules):
    from model_adapters.kimi_audio.adapter import KimiAudioNative

    with pytest.raises(ConfigError, match=r"^model kimi-audio needs package kimia_infer: git clone https://github.com/MoonshotAI/Kimi-Audio") as error:
        KimiAudioNative(device="cpu")
    assert "git submodule update --init --recursive" in str(error.value)  # its GLM-4 tokenizer is a submodule


# --- Step-Audio 2 (native class, and StepFun's vLLM endpoint) --------------------------------------------

STEP = {
    "stepaudio2.py": '''
        import soundfile as sf
        CALLS = []

        class StepAudio2:
            def __init__(self, model_path):
                CALLS.append(("init", model_path))

            def __call__(self, messages, **kwargs):
                human = messages[1]["content"]
                audio, rate = sf.read(human[0]["audio"], dtype="float32")
                CALLS.append(("call", messages, kwargs, audio.size, rate))
                return [1, 2], "Scene: metro station", None
    ''',
}


def test_step_audio2_native_follows_the_repositorys_message_format(tmp_path, fresh_modules):
    repo = write_tree(tmp_path / "Step-Audio2", STEP)
    from model_adapters.step_audio2.adapter import StepAudio2Adapter

    adapter = StepAudio2Adapter(repo=str(repo), model="/w/Step-Audio-2-mini", device="cpu")
    fake = sys.modules["stepaudio2"]
    assert fake.CALLS[0] == ("init", "/w/Step-Audio-2-mini")
    assert adapter.answer([req_as_run(ramp(3, 16_000), "step-audio2", "ASC")]) == ["Scene: metro station"]
    _, messages, kwargs, size, rate = fake.CALLS[-1]
    assert messages[0] == {"role": "system", "content": STEPFUN_ANALYSIS_SYSTEM}
    assert [m["role"] for m in messages] == ["system", "human", "assistant"]
    text = load_prompts().prompt("ASC", "independent")
    assert messages[1]["content"][0]["type"] == "audio" and messages[1]["content"][1] == {"type": "text", "text": text}
    assert messages[2]["content"] is None
    assert kwargs == {"max_new_tokens": 256, "do_sample": False} and (size, rate) == (48_000, 16_000)
    assert adapter.settings["backend"] == "native"


def test_step_audio2_native_asr_is_stepfuns_asr_example(tmp_path, fresh_modules):
    """examples.py's ASR: the instruction in the system turn, the audio alone in the human turn."""
    repo = write_tree(tmp_path / "Step-Audio2", STEP)
    from model_adapters.step_audio2.adapter import StepAudio2Adapter

    adapter = StepAudio2Adapter(repo=str(repo), model="/w/Step-Audio-2-mini", device="cpu")
    adapter.answer([req_as_run(ramp(3, 16_000), "step-audio2", "ASR")])
    _, messages, _, _, _ = sys.modules["stepaudio2"].CALLS[-1]
    path = messages[1]["content"][0]["audio"]
    assert messages == [{"role": "system", "content": STEPFUN_ASR_SYSTEM},
                        {"role": "human", "content": [{"type": "audio", "audio": path}]},
                        {"role": "assistant", "content": None}]


def test_step_audio2_native_model_decoding_is_stepfuns_chat_sampling(tmp_path, fresh_modules):
    repo = write_tree(tmp_path / "Step-Audio2", STEP)
    from model_adapters.step_audio2.adapter import StepAudio2Adapter

    adapter = StepAudio2Adapter(repo=str(repo), model="/w/Step-Audio-2-mini", device="cpu", decoding="model")
    adapter.answer([req_as_run(ramp(1, 16_000), "step-audio2", "AT")])
    _, _, kwargs, _, _ = sys.modules["stepaudio2"].CALLS[-1]
    assert kwargs == {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7, "top_p": 0.9,
                      "repetition_penalty": 1.05}
    assert adapter.settings["decoding"] == "model" and "examples.py" in adapter.settings["recipe"]
    assert adapter.settings["deterministic"] is False


def test_step_audio2_endpoint_speaks_like_stepfuns_client():
    with ChatServer(answer=lambda body: "Scene: cafe") as server:
        from model_adapters.step_audio2.adapter import StepAudio2Adapter

        adapter = StepAudio2Adapter(base_url=server.base_url, max_retries=0)
        assert adapter.answer([req_as_run(ramp(30, 16_000), "step-audio2", "AT")]) == ["Scene: cafe"]
        adapter.answer([req_as_run(ramp(1, 16_000), "step-audio2", "ASR")])
        body, asr = server.seen[0].body, server.seen[1].body
        identity = StepAudio2Adapter.identity({"base_url": server.base_url})
    assert identity["settings"]["backend"] == "endpoint"
    assert identity["server"] == {"reported_by": None, "unknown": NOTHING}  # the stand-in reports nothing
    assert body["model"] == "step-audio-2-mini" and body["temperature"] == 0 and body["max_tokens"] == 256
    system, human = body["messages"]
    assert system == {"role": "system", "content": STEPFUN_ANALYSIS_SYSTEM}
    assert human["role"] == "human"
    assert [p["type"] for p in human["content"]] == ["input_audio", "input_audio", "text"]  # 25 s + 5 s, then text
    assert asr["messages"][0] == {"role": "system", "content": STEPFUN_ASR_SYSTEM}
    assert [p["type"] for p in asr["messages"][1]["content"]] == ["input_audio"]  # the audio alone


def test_step_audio2_native_without_its_code_suggests_the_endpoint(fresh_modules):
    from model_adapters.step_audio2.adapter import StepAudio2Adapter

    with pytest.raises(ConfigError, match="model step-audio2 needs package stepaudio2: git clone https://github.com/stepfun-ai/Step-Audio2"):
        StepAudio2Adapter(device="cpu")


# --- LTU-AS (forked transformers and peft, its repository's whisper and templates) -------------------------

# upstream's src/ltu_as/templates/alpaca_short.json (YuanGongND/ltu 2002aad)
ALPACA_SHORT = {
    "description": "A shorter template to experiment with.",
    "prompt_input": "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
    "prompt_no_input": "### Instruction:\n{instruction}\n\n### Response:\n",
    "response_split": "### Response:",
}
LTU_REPO = {  # a stand-in for src/ltu_as: its Prompter, like upstream's, reads templates relative to the working dir
    "utils/__init__.py": "",
    "utils/prompter.py": """
        import json
        import os.path as osp

        class Prompter:
            def __init__(self, template_name=""):
                file_name = osp.join("../templates", f"{template_name}.json")
                if not osp.exists(file_name):
                    file_name = osp.join("./templates", f"{template_name}.json")
                if not osp.exists(file_name):
                    raise ValueError(f"Can't read {file_name}")
                with open(file_name) as fp:
                    self.template = json.load(fp)

            def generate_prompt(self, instruction, input=None):
                if input:
                    return self.template["prompt_input"].format(instruction=instruction, input=input)
                return self.template["prompt_no_input"].format(instruction=instruction)
    """,
}
# The stand-in LLaMA's next-token logits: token 9 leads, narrowly; sampling among all of them rarely gives 9, 9.
LOGITS = [1.5] * 9 + [2.0] + [1.5] * 2
GENERATION_DEFAULTS = {"do_sample": False, "num_beams": 1, "temperature": 1.0, "top_k": 50, "top_p": 1.0}  # HF's


def fake_ltu_modules(calls: list, transcript: str = ""):
    import torch

    class Tokenizer:
        pad_token_id = None

        @classmethod
        def from_pretrained(cls, path):
            calls.append(("tokenizer", path))
            return cls()

        def __call__(self, text, return_tensors="pt"):
            calls.append(("prompt", text))
            return {"input_ids": torch.tensor([[1, 5, 6, 7]])}

        def decode(self, tokens, skip_special_tokens=True):
            return " Events: dog " if tokens.tolist() == [9, 9] else "<wrong slice>"

    class Llama(torch.nn.Module):
        """The fork's generation (hf-dev/transformers-main, YuanGongND/ltu 2002aad): only `sample` gets the audio."""

        def __init__(self):
            super().__init__()
            self.config = types.SimpleNamespace()
            self.w = torch.nn.Parameter(torch.ones(1))

        @classmethod
        def from_pretrained(cls, path, torch_dtype=None):
            calls.append(("llama", path, torch_dtype))
            return cls()

        def generate(self, input_ids=None, audio_input=None, generation_config=None, **kwargs):
            calls.append(("generate", tuple(audio_input.shape), generation_config, kwargs.get("max_new_tokens")))
            config = {**GENERATION_DEFAULTS, **generation_config}
            if config["num_beams"] == 1 and config["do_sample"] is False:
                return self.greedy_search(input_ids)  # as the fork: audio_input is not passed on
            return self.sample(input_ids, audio_input, config)

        def greedy_search(self, input_ids, **model_kwargs):
            return self.prepare_inputs_for_generation(input_ids, **model_kwargs)  # TypeError, as in the fork

        def prepare_inputs_for_generation(self, input_ids, audio_input, past_key_values=None, **kwargs):
            return {"input_ids": input_ids, "audio_input": audio_input}

        def sample(self, input_ids, audio_input, config):
            out = input_ids
            for step in range(2):
                inputs = self.prepare_inputs_for_generation(out, audio_input if step == 0 else None)
                assert (inputs["audio_input"] is not None) == (step == 0)  # the audio goes in with the prompt
                # the fork's warpers, in its order: temperature, top_k
                logits = torch.tensor(LOGITS) / config["temperature"]
                if config["top_k"]:
                    logits = logits.masked_fill(logits < torch.topk(logits, config["top_k"])[0][-1], float("-inf"))
                token = torch.multinomial(torch.softmax(logits, -1), 1)
                out = torch.cat([out, token.view(1, 1)], dim=1)
            return types.SimpleNamespace(sequences=out)

    class Whisper(torch.nn.Module):
        def __init__(self, dims):
            super().__init__()
            calls.append(("whisper", dims))

        def load_state_dict(self, state, strict=True):
            return None

        def transcribe_audio(self, path):
            import soundfile as sf

            audio, rate = sf.read(path)
            calls.append(("heard", audio.size, rate))
            return None, [torch.ones(1500, 4, 33)]  # (frames, dim, layers) as the fork returns

    transformers = types.SimpleNamespace(LlamaTokenizer=Tokenizer, LlamaForCausalLM=Llama,
                                         GenerationConfig=lambda **kw: kw)
    peft = types.SimpleNamespace(LoraConfig=lambda **kw: kw, get_peft_model=lambda model, config: model)
    whisper_model = types.SimpleNamespace(Whisper=Whisper, ModelDimensions=lambda **kw: kw)
    whisper_at = types.SimpleNamespace(load_model=lambda name, device: types.SimpleNamespace(
        transcribe=lambda path: {"text": transcript}))
    return {"transformers": transformers, "peft": peft, "whisper.model": whisper_model, "whisper_at": whisper_at}


def make_ltu(tmp_path, monkeypatch, calls: list, transcript: str = "", templates: bool = True, **settings):
    """LtuAsNative on the stand-ins, started from a working directory other than its repository's."""
    import torch

    from model_adapters.ltu_as import adapter as ltu

    fakes = fake_ltu_modules(calls, transcript)
    real_require = ltu.require
    monkeypatch.setattr(ltu, "require", lambda module, model, install: fakes.get(module) or real_require(module, model, install))
    repo = write_tree(tmp_path / "ltu" / "src" / "ltu_as", LTU_REPO)
    if templates:
        (repo / "templates").mkdir()
        (repo / "templates" / "alpaca_short.json").write_text(json.dumps(ALPACA_SHORT), encoding="utf-8")
    torch.save({"dims": {"n_mels": 80}, "model_state_dict": {}}, tmp_path / "large-v1.pt")
    torch.save({}, tmp_path / "ltuas.bin")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return ltu.LtuAsNative(repo=str(repo), model=str(tmp_path / "ltuas.bin"), base_model="/vicuna",
                           whisper_checkpoint=str(tmp_path / "large-v1.pt"), device="cpu", **settings)


def test_ltu_as_native_follows_the_repositorys_inference(tmp_path, monkeypatch, fresh_modules):
    calls: list = []
    adapter = make_ltu(tmp_path, monkeypatch, calls)
    assert adapter.answer([req(ramp(14, 16_000), "Which sound events?", "AT")]) == ["Events: dog"]
    heard = next(c for c in calls if c[0] == "heard")
    assert heard[1:] == (160_000, 16_000)  # only the first 10 s are heard
    _, shape, config, tokens = next(c for c in calls if c[0] == "generate")
    assert shape == (1, 32, 75, 4)  # 33 layers less the first, 1500 frames / 20
    assert config["repetition_penalty"] == 1.1 and tokens == 256
    assert (config["pad_token_id"], config["bos_token_id"], config["eos_token_id"]) == (0, 1, 2)
    prompt = next(c for c in calls if c[0] == "prompt")[1]
    assert prompt == "### Instruction:\nWhich sound events?\n\n### Response:\n"  # audio_only: no transcript (paper)
    assert adapter.settings["eval_mode"] == "audio_only"


def test_ltu_as_decodes_greedily_through_the_forks_sample_path(tmp_path, monkeypatch, fresh_modules):
    """The fork's greedy branch drops the audio (TypeError); greedy is sample() among the top 1 token."""
    calls: list = []
    adapter = make_ltu(tmp_path, monkeypatch, calls)
    answers = adapter.answer([req(ramp(2, 16_000), "Which sound events?", "AT", seed=s) for s in range(5)])
    assert answers == ["Events: dog"] * 5  # every seed: the leading token, twice
    configs = [c[2] for c in calls if c[0] == "generate"]
    assert all(c["do_sample"] is True and c["top_k"] == 1 and c["num_beams"] == 1 for c in configs)
    assert all(c["temperature"] == 1.0 and c["top_p"] == 1.0 for c in configs)  # no warping besides top_k


def test_ltu_as_starts_from_any_working_directory_and_names_a_missing_template(tmp_path, monkeypatch, fresh_modules):
    calls: list = []
    with pytest.raises(ConfigError, match=r"templates/alpaca_short\.json does not exist: set repo to the src/ltu_as"):
        make_ltu(tmp_path, monkeypatch, calls, templates=False)
    assert not any(c[0] == "llama" for c in calls)  # refused before the model loads


@pytest.mark.parametrize("transcript, spoken", [
    (" the birch canoe slid. Thanks for watching!", "the birch canoe slid. "),
    (" THANK YOU FOR WATCHING. the birch canoe", " the birch canoe"),
    (" Thank you for watching.", None),  # nothing left: the prompt has no input section
])
def test_ltu_as_joint_mode_filters_thanks_for_watching_as_upstream(tmp_path, monkeypatch, fresh_modules,
                                                                  transcript, spoken):
    calls: list = []
    adapter = make_ltu(tmp_path, monkeypatch, calls, transcript=transcript, eval_mode="joint")
    adapter.answer([req(ramp(2, 16_000), "What is said?", "ASR")])
    prompt = next(c for c in calls if c[0] == "prompt")[1]
    if spoken is None:
        assert prompt == "### Instruction:\nWhat is said?\n\n### Response:\n"
    else:
        assert prompt == f"### Instruction:\nWhat is said?\n\n### Input:\n{spoken}\n\n### Response:\n"
    assert adapter.settings["eval_mode"] == "joint"
    assert "remove_thanks_for_watching" in adapter.settings["transcript_filter"]


def test_ltu_as_block_mean_matches_skimage_block_reduce():
    from model_adapters.ltu_as.adapter import block_mean

    x = np.arange(2 * 45 * 3, dtype=np.float64).reshape(2, 45, 3)
    out = block_mean(x, 20)
    padded = np.concatenate([x, np.zeros((2, 15, 3))], axis=1)  # skimage pads with zeros to whole blocks
    np.testing.assert_allclose(out, padded.reshape(2, 3, 20, 3).mean(axis=2))


def test_ltu_as_native_needs_its_repository(fresh_modules):
    from model_adapters.ltu_as.adapter import LtuAsNative

    with pytest.raises(ConfigError, match="model ltu-as needs repo"):
        LtuAsNative(device="cpu")
