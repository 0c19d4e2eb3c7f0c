"""Prompt sets: the default file is complete, fingerprinted, and strictly validated."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.spec.prompts import DEFAULT_PROMPTS, Prompt, PromptSet, hashed, load_prompts
from sseu_harness.spec.tasks import MODES, TASKS

# The documented overrides: (model, task, mode) cases whose prompt is empty on purpose.
EMPTY_BY_DESIGN = {("whisper", "ASR", "independent")}

# A minimal valid set; the error cases below each change one thing in it.
MINIMAL = """\
version = "v"
[independent]
ASR = "a"
ASC = "b"
AT = "c"
[joint]
text = "j"
[cot]
text = "c"
[overrides.whisper]
ASR = ""
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompts.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prompts() -> PromptSet:
    return load_prompts()


def _copy(tmp_path: Path, old: str = "", new: str = "") -> Path:
    text = DEFAULT_PROMPTS.read_text(encoding="utf-8")
    if old:
        assert old in text, f"test fixture out of date: {old!r} not in {DEFAULT_PROMPTS.name}"
        text = text.replace(old, new, 1)
    return _write(tmp_path, text)


def test_default_set_loads_with_its_version(prompts: PromptSet) -> None:
    assert prompts.version == "sseu-prompts-2"
    assert prompts.path == DEFAULT_PROMPTS
    assert re.fullmatch(r"[0-9a-f]{64}", prompts.sha256)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASKS)
def test_every_case_has_a_prompt(prompts: PromptSet, task: str, mode: str) -> None:
    assert prompts.prompt(task, mode).strip()
    for model in ("qwen2-audio", "some-third-party-model", None):
        assert prompts.prompt(task, mode, model).strip()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASKS)
def test_whisper_prompt_is_empty_only_where_documented(prompts: PromptSet, task: str, mode: str) -> None:
    text = prompts.prompt(task, mode, "whisper")
    assert (text == "") == (("whisper", task, mode) in EMPTY_BY_DESIGN)


def test_prompts_ask_for_the_formats_the_parser_reads(prompts: PromptSet) -> None:
    assert "Scene:" in prompts.prompt("ASC", "independent")
    assert "Events:" in prompts.prompt("AT", "independent") and "Events: none" in prompts.prompt("AT", "independent")
    for mode in ("joint", "cot"):
        text = prompts.prompt("ASR", mode)
        assert all(label in text for label in ("Transcript:", "Scene:", "Events:"))
    cot = prompts.prompt("ASR", "cot")
    assert "Final answer:" in cot
    assert all(f"\n{step}. " in cot for step in range(1, 6))


def test_joint_and_cot_share_one_text_across_tasks(prompts: PromptSet) -> None:
    for mode in ("joint", "cot"):
        assert len({prompts.prompt(task, mode) for task in TASKS}) == 1
    assert len({prompts.prompt(task, "independent") for task in TASKS}) == 3


def test_override_applies_to_its_model_only(prompts: PromptSet) -> None:
    qwen = prompts.prompt("ASR", "independent", "qwen2-audio")
    assert qwen != prompts.prompt("ASR", "independent")
    assert prompts.prompt("ASR", "independent", "laion-clap") == prompts.prompt("ASR", "independent")
    # An override for independent ASR leaves the model's other prompts alone.
    assert prompts.prompt("ASC", "independent", "qwen2-audio") == prompts.prompt("ASC", "independent")
    assert prompts.prompt("ASR", "joint", "qwen2-audio") == prompts.prompt("ASR", "joint")


def test_overrides_for_joint_and_cot(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    path.write_text(path.read_text() + '\n[overrides.newmodel]\njoint = "J"\ncot = "C"\nAT = "T"\n')
    prompts = load_prompts(path)
    assert [prompts.prompt(t, "joint", "newmodel") for t in TASKS] == ["J"] * 3
    assert prompts.prompt("ASC", "cot", "newmodel") == "C"
    assert prompts.prompt("AT", "independent", "newmodel") == "T"
    assert prompts.prompt("ASR", "independent", "newmodel") == prompts.prompt("ASR", "independent")


def test_sha256_is_stable_and_tracks_content(tmp_path: Path, prompts: PromptSet) -> None:
    assert load_prompts().sha256 == prompts.sha256
    # The hash is of the parsed content: comments and layout do not change it.
    same = _copy(tmp_path)
    same.write_text("# a comment\n" + same.read_text())
    assert load_prompts(same).sha256 == prompts.sha256
    changed = load_prompts(_copy(tmp_path, "Transcribe exactly", "Transcribe precisely"))
    assert changed.sha256 != prompts.sha256
    assert changed.prompt("ASR", "independent").startswith("Transcribe precisely")


def test_default_file_is_valid_toml_with_expected_tables() -> None:
    raw = tomllib.loads(DEFAULT_PROMPTS.read_text(encoding="utf-8"))
    assert set(raw) == {"version", "independent", "joint", "cot", "overrides", "system"}


def test_minimal_set_is_valid(tmp_path: Path) -> None:
    prompts = load_prompts(_write(tmp_path, MINIMAL))
    assert [prompts.prompt(t, "independent") for t in TASKS] == ["a", "b", "c"]
    assert prompts.prompt("ASR", "independent", "whisper") == ""


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('ASR = "a"', 'ASR_ = "a"', "ASR_"),  # typo in an independent key
        ('text = "j"', 'txt = "j"', "txt"),
        ('version = "v"', 'version = "v"\nlanguage = "en"', "language"),
        ("[joint]", '[independant]\nASR = "x"\n[joint]', "independant"),
        ('ASR = ""', 'ASR = ""\nASRR = ""', "ASRR"),  # in an override
    ],
)
def test_unknown_key_or_table_is_an_error(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_prompts(path)
    message = str(info.value)
    assert repr(key) in message and str(path) in message and "known keys" in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('version = "v"', "version = 1", "version"),
        ('text = "j"', "text = 3", "text"),
        ('ASC = "b"', "ASC = true", "ASC"),
        ('ASR = ""', 'ASR = ["a"]', "ASR"),  # in an override
    ],
)
def test_non_string_value_is_an_error(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_prompts(path)
    message = str(info.value)
    assert repr(key) in message and str(path) in message and "must be a string" in message


@pytest.mark.parametrize(
    ("old", "key"),
    [
        ('version = "v"\n', "version"),
        ('AT = "c"\n', "AT"),
        ('[cot]\ntext = "c"\n', "cot"),
        ('text = "c"\n', "text"),
    ],
)
def test_missing_required_entry_is_an_error(tmp_path: Path, old: str, key: str) -> None:
    path = _write(tmp_path, MINIMAL.replace(old, "", 1))
    with pytest.raises(ConfigError) as info:
        load_prompts(path)
    message = str(info.value)
    assert f"missing required key {key!r}" in message and str(path) in message


def test_empty_base_prompt_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'text' is empty"):
        load_prompts(_write(tmp_path, MINIMAL.replace('text = "c"', 'text = "  "')))


def test_overrides_must_be_tables(tmp_path: Path) -> None:
    text = MINIMAL.replace('[overrides.whisper]\nASR = ""\n', '[overrides]\nwhisper = "x"\n')
    with pytest.raises(ConfigError, match=r"overrides\.whisper"):
        load_prompts(_write(tmp_path, text))


def test_unknown_model_names_in_overrides_are_allowed(tmp_path: Path) -> None:
    prompts = load_prompts(_write(tmp_path, MINIMAL + '[overrides."acme/audio-llm v2"]\nASC = "z"\n'))
    assert prompts.prompt("ASC", "independent", "acme/audio-llm v2") == "z"


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read prompt set"):
        load_prompts(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = \n")
    with pytest.raises(ConfigError, match="cannot read prompt set"):
        load_prompts(bad)


def test_unknown_task_or_mode_is_a_config_error(prompts: PromptSet) -> None:
    with pytest.raises(ConfigError, match="known tasks"):
        prompts.prompt("SED", "independent")
    with pytest.raises(ConfigError, match="known modes"):
        prompts.prompt("ASR", "chain")


def test_system_turns_come_per_model_and_task_and_are_part_of_the_hash(prompts: PromptSet) -> None:
    import pickle

    asr = prompts.prompt("ASR", "independent", "step-audio2")
    assert asr == "" and asr.system == "请记录下你所听到的语音内容。"  # StepFun's ASR recipe: the audio alone
    assert prompts.prompt("AT", "cot", "step-audio2").system.startswith("You are an expert in audio analysis")
    plain = prompts.prompt("ASC", "independent", "qwen2-audio")
    assert plain.system is None and hashed(plain) == str(plain)  # prompts without a system turn keep their hash
    assert hashed(Prompt("x", "a")) != hashed(Prompt("x", "b")) != hashed("x")
    assert pickle.loads(pickle.dumps(asr)).system == asr.system  # crosses process boundaries whole


def test_system_tables_are_strict(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'asr' in \[system.m\]"):
        load_prompts(_copy(tmp_path, "[system.step-audio2]", "[system.m]\nasr = \"x\"\n[system.step-audio2]"))
    with pytest.raises(ConfigError, match=r"\[system.m\] 'ASR' is empty"):
        load_prompts(_copy(tmp_path, "[system.step-audio2]", "[system.m]\nASR = \" \"\n[system.step-audio2]"))
