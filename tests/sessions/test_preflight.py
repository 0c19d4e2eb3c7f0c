"""Fail fast: unreadable audio and unobtainable weights are refused at session start, once, before any model loads.

Also the ``package.module:factory`` forms of ``--sseu-model``: an adapter class
and a plain function (called once per process, loading nothing).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from model_adapters.utils.hub import check_hub_weights
from sseu_harness.dataset.manifest import DEMO_DIR
from sseu_harness.errors import ConfigError
from tests.helpers.session_runner import run_pytest, summary

ONE_SNR = ("--sseu-snrs=0", "--sseu-modes=independent")


def usage_error(proc) -> str:
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stderr


def test_missing_and_unreadable_audio_is_one_error_listing_the_files_and_no_model_loads(tmp_path):
    data = tmp_path / "set"
    shutil.copytree(DEMO_DIR, data)
    speech = sorted((data / "speech").iterdir())[3]
    background = sorted((data / "backgrounds").iterdir())[5]
    speech.unlink()
    background.write_bytes(b"not audio at all" * 100)
    log = tmp_path / "calls.jsonl"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:CallLog", f"--sseu-data={data}", *ONE_SNR,
                      env={"SSEU_TEST_CALL_LOG": str(log), "SSEU_TEST_REFUSE_LOAD": "1"})
    err = usage_error(proc)
    assert "2 of the 52 audio files the selected cases need cannot be read, so no model was loaded" in err
    assert f"{speech}: missing" in err and f"{background}: unreadable" in err
    assert err.count("ERROR") == 1 and "Traceback" not in err
    assert not log.exists()  # nothing was constructed, nothing answered


def test_only_the_files_of_the_selected_snrs_are_opened(tmp_path):
    data = tmp_path / "set"
    shutil.copytree(DEMO_DIR, data)
    manifest = data / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    rows = [json.loads(line) for line in lines[1:3]]
    for row in rows:  # two pre-mixed items: a missing file at snr_m5 matters only when snr_m5 runs
        speech, background = row.pop("speech"), row.pop("background")
        row["speech"] = {"path": None, "transcript": speech["transcript"], "speaker": "x", "onset": 0.0}
        row["background"] = {"path": None, "source": "demo", "scene": background["scene"], "events": background["events"]}
        row["premixed"] = {"snr_0": speech["path"], "snr_m5": "speech/gone.flac"}
    manifest.write_text("\n".join([lines[0], *map(json.dumps, rows)]) + "\n")
    ok = run_pytest("--sseu-model=tests.helpers.adapters:Listener", f"--sseu-data={data}", "--sseu-snrs=0",
                    "--sseu-modes=independent", "--sseu-tasks=ASR", "--collect-only", "-q")
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    err = usage_error(run_pytest("--sseu-model=tests.helpers.adapters:Listener", f"--sseu-data={data}",
                                 "--sseu-snrs=0,-5", "--sseu-modes=independent", "--sseu-tasks=ASR", "--collect-only"))
    assert "1 of the 3 audio files" in err and "speech/gone.flac: missing" in err


@pytest.mark.parametrize("model", ["qwen2-audio", "whisper", "laion-clap"])
def test_hub_weights_neither_cached_nor_reachable_are_one_usage_error(model, tmp_path):
    ids = {"qwen2-audio": "Qwen/Qwen2-Audio-7B-Instruct", "whisper": "openai/whisper-large-v3",
           "laion-clap": "laion/clap-htsat-unfused"}
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    err = usage_error(run_pytest(f"--sseu-model={model}", *ONE_SNR, env=env))
    assert (f"model {model}: the weights of {ids[model]} are not in the local Hugging Face cache and "
            "HF_HUB_OFFLINE is set") in err
    assert f"hf download {ids[model]}" in err and "--sseu-model-path=/path/to/folder" in err
    assert err.count(ids[model]) == 2 and "OSError" not in err


def test_an_unreachable_hub_is_probed_briefly_and_named(tmp_path):
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}
    err = usage_error(run_pytest("--sseu-model=qwen2-audio", *ONE_SNR, env=env))
    assert "the weights of Qwen/Qwen2-Audio-7B-Instruct are not in the local Hugging Face cache and the hub cannot be reached (" in err


def test_a_missing_local_folder_is_named(tmp_path):
    err = usage_error(run_pytest("--sseu-model=whisper", f"--sseu-model-path={tmp_path / 'no-such-model'}", *ONE_SNR))
    assert f"model whisper: the model folder {tmp_path / 'no-such-model'} does not exist" in err


def test_cached_weights_pass_offline(tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--org--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "models--org--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_hub_weights("m", "org/tiny", None)  # cached: no error, no network
    with pytest.raises(ConfigError, match="the weights of org/other are not in the local Hugging Face cache"):
        check_hub_weights("m", "org/other", None)


def test_a_function_factory_is_called_once_per_process_and_loads_nothing_until_it_answers(tmp_path):
    log = tmp_path / "calls.jsonl"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:make_listener", "-n", "2", *ONE_SNR, "-rs",
                      f"--sseu-report-dir={tmp_path / 'r'}", env={"SSEU_TEST_CALL_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 passed, 2 skipped" in proc.stdout and "make_listener does not do ASC" in proc.stdout
    events = [json.loads(line) for line in log.read_text().splitlines()]
    factory = Counter(e["pid"] for e in events if e["event"] == "factory")
    assert len(factory) == 3 and set(factory.values()) == {1}  # controller and two workers, once each
    loaded = [e["pid"] for e in events if e["event"] == "loaded"]
    assert len(loaded) == 1 and loaded[0] in factory  # only the worker that ran the ASR case loaded
    spec = summary(tmp_path / "r")["meta"]["models"]["make_listener"]
    assert spec["factory"] == "tests.helpers.adapters:make_listener" and spec["name"] == "lazy-listener"
    assert spec["settings"] == {"loudness": 1.0} and spec["user_settings"] == {} and spec["listens"] is True


def test_a_function_factory_gets_its_settings_and_they_are_its_identity(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text("[models.make_listener]\nloudness = 2.5\n")
    log = tmp_path / "calls.jsonl"
    proc = run_pytest("--sseu-model=tests.helpers.adapters:make_listener", f"--sseu-models-file={models}", *ONE_SNR,
                      "--sseu-tasks=ASR", f"--sseu-report-dir={tmp_path / 'r'}", env={"SSEU_TEST_CALL_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    spec = summary(tmp_path / "r")["meta"]["models"]["make_listener"]
    assert spec["settings"] == {"loudness": 2.5} and spec["user_settings"] == {"loudness": 2.5}
    models.write_text("[models.make_listener]\nvolume = 2\n")
    err = usage_error(run_pytest("--sseu-model=tests.helpers.adapters:make_listener", f"--sseu-models-file={models}",
                                 *ONE_SNR, "--collect-only", env={"SSEU_TEST_CALL_LOG": str(log)}))
    assert "unknown setting 'volume' for model make_listener; known settings: loudness" in err


def test_a_class_factory_keeps_working_and_a_function_returning_no_adapter_is_refused():
    proc = run_pytest("--sseu-model=tests.helpers.adapters:Listener", *ONE_SNR, "--collect-only", "-q")
    assert proc.returncode == 0 and "sseu::listener-ASR-snr_0-independent" in proc.stdout
    err = usage_error(run_pytest("--sseu-model=tests.helpers.adapters:make_nothing", *ONE_SNR, "--collect-only"))
    assert "model tests.helpers.adapters:make_nothing: the function returned str, not an adapter" in err
