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
        # no events: the stand-in mixture (a speech file) is shorter than the background they were timed on
        row["background"] = {"path": None, "source": "demo", "scene": background["scene"], "events": []}
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


# ------------------------------------------------------------------ issue 21: what the manifest and headers show
def hostile_set(root):
    """Real WAVs (1 s of speech, a 3 s background, both at 16 kHz) and one item per problem the pre-flight sees."""
    import numpy as np
    import soundfile as sf

    from tests.helpers.sets import item_row, write_set

    rng = np.random.default_rng(5)
    root.mkdir()
    sf.write(root / "s.wav", (0.2 * rng.standard_normal(16_000)).astype(np.float32), 16_000, subtype="PCM_16")
    sf.write(root / "long.wav", (0.2 * rng.standard_normal(40_000)).astype(np.float32), 16_000, subtype="PCM_16")
    sf.write(root / "b.wav", (0.1 * rng.standard_normal(48_000)).astype(np.float32), 16_000, subtype="PCM_16")
    rows = [
        item_row("ok", "s.wav", "b.wav", onset=1.0),
        item_row("outlasts", "long.wav", "b.wav", onset=1.0),  # 2.5 s of speech from 1 s in a 3 s background
        item_row("starts-after", "s.wav", "b.wav", onset=3.5),
        item_row("hmm", "s.wav", "b.wav", transcript="Hmm."),
        item_row("punctuation", "s.wav", "b.wav", transcript="?!... --"),
        item_row("late-event", "s.wav", "b.wav", events=[{"label": "dog", "onset": 4.0, "offset": 5.0}]),
    ]
    return write_set(root, rows)


def test_items_that_would_fail_their_cases_are_one_error_before_any_model_loads(tmp_path):
    manifest = hostile_set(tmp_path / "set")
    log = tmp_path / "calls.jsonl"
    err = usage_error(run_pytest("--sseu-model=tests.helpers.adapters:CallLog", f"--sseu-data={manifest}", *ONE_SNR,
                                 env={"SSEU_TEST_CALL_LOG": str(log), "SSEU_TEST_REFUSE_LOAD": "1"}))
    assert "5 problem(s) in the items the selected cases need, so no model was loaded" in err
    assert f"{manifest}:3: item outlasts: the speech (2.50 s from 1.0 s) outlasts its background (3.00 s)" in err
    assert f"{manifest}:4: item starts-after: speech.onset 3.5 s is past the end of its background (3.00 s)" in err
    assert f"{manifest}:5: item hmm: its transcript 'Hmm.' has no word once normalised for WER" in err
    assert f"{manifest}:6: item punctuation: its transcript '?!... --' has no word" in err
    assert f"{manifest}:7: item late-event: event 'dog' starts at 4.0 s, after the clip ends (3.00 s)" in err
    assert f"{manifest}:2:" not in err and "Traceback" not in err and not log.exists()
    # without ASR the transcripts are read by no case; a limit on clip length refuses the 3 s clips
    err = usage_error(run_pytest("--sseu-model=oracle", f"--sseu-data={manifest}", *ONE_SNR, "--sseu-tasks=ASC,AT",
                                 "--sseu-max-clip-seconds=2.5"))
    assert "'Hmm.'" not in err and "the background clip lasts 3 s, above the limit of 2.5 s" in err
    assert f"{manifest}:2: item ok" in err
    # rescoring reads no audio, but an empty reference would still be scored
    err = usage_error(run_pytest("--sseu-model=oracle", f"--sseu-data={manifest}", *ONE_SNR, "--sseu-rescore"))
    assert "2 problem(s)" in err and "'Hmm.'" in err and "'?!... --'" in err and "outlasts" not in err


def test_a_truncated_wav_is_named_before_any_model_loads(tmp_path):
    manifest = hostile_set(tmp_path / "set")
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:2]) + "\n")  # the good item alone
    background = tmp_path / "set" / "b.wav"
    background.write_bytes(background.read_bytes()[:50_000])  # the header still promises 96,000 bytes of samples
    log = tmp_path / "calls.jsonl"
    err = usage_error(run_pytest("--sseu-model=tests.helpers.adapters:CallLog", f"--sseu-data={manifest}", *ONE_SNR,
                                 env={"SSEU_TEST_CALL_LOG": str(log), "SSEU_TEST_REFUSE_LOAD": "1"}))
    assert f"{background}: truncated: its WAV header promises 46044 more bytes of samples than the file holds" in err
    assert not log.exists()


@pytest.mark.parametrize("case", ["not-utf8", "nul", "nested", "store-folder", "cache-blocked", "foreign-store",
                                  "thresholds-not-utf8", "bound-5", "roots-up", "margin-nan", "error-rate-nan",
                                  "clip-seconds-inf"])
def test_bad_files_and_paths_are_usage_errors_not_tracebacks(tmp_path, case):
    import sqlite3

    from tests.helpers.sets import item_row, write_set

    data = tmp_path / "set"
    shutil.copytree(DEMO_DIR, data)
    manifest = data / "manifest.jsonl"
    options, expected = [], ""
    if case == "not-utf8":
        manifest.write_bytes(manifest.read_bytes().replace(b"The birch canoe", "Th\u00e9 birch canoe".encode("cp1252")))
        expected = "not UTF-8"
    elif case == "nul":
        write_set(data, [item_row("a", "speech/x\u0000.flac", "backgrounds/b.flac")])
        expected = "holds a NUL byte"
    elif case == "nested":
        manifest.write_text(manifest.read_text() + "[" * 50_000 + "]" * 50_000 + "\n")
        expected = "JSON nested too deeply"
    elif case == "store-folder":
        (tmp_path / "store").mkdir()
        options, expected = [f"--sseu-store={tmp_path / 'store'}"], "is a folder; pass --sseu-store with a file path"
    elif case == "cache-blocked":
        (tmp_path / "file").write_text("x")
        options, expected = [f"--sseu-cache-dir={tmp_path / 'file' / 'cache'}"], "cannot create the folder"
    elif case == "foreign-store":
        with sqlite3.connect(tmp_path / "other.sqlite") as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
        conn.close()
        options, expected = [f"--sseu-store={tmp_path / 'other.sqlite'}"], "is a SQLite file of another tool"
    elif case == "thresholds-not-utf8":
        (tmp_path / "t.toml").write_bytes('# f\u00fcr ASR\n[[bound]]\ntask = "ASR"\nlimit = 10\n'.encode("latin-1"))
        options, expected = [f"--sseu-thresholds={tmp_path / 't.toml'}"], "not UTF-8"
    elif case == "bound-5":
        (tmp_path / "t.toml").write_text("bound = 5\n")
        options, expected = [f"--sseu-thresholds={tmp_path / 't.toml'}"], "bound = 5 is not a list of tables"
    elif case == "roots-up":
        lines = manifest.read_text().splitlines()
        header = {**json.loads(lines[0]), "roots": {"up": "/"}}
        manifest.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
        expected = "root(s) up = '/' (resolves to /) lie outside the set's folder"
    elif case == "margin-nan":
        options, expected = ["--sseu-margin=nan"], "--sseu-margin must be a finite number of points >= 0, got nan"
    elif case == "error-rate-nan":
        options, expected = ["--sseu-max-error-rate=nan"], "--sseu-max-error-rate must be a fraction from 0 to 1"
    elif case == "clip-seconds-inf":
        options, expected = ["--sseu-max-clip-seconds=inf"], "--sseu-max-clip-seconds must be a positive number"
    err = usage_error(run_pytest("--sseu-model=oracle", f"--sseu-data={data}", *ONE_SNR, *options, "--collect-only"))
    assert expected in err and "Traceback" not in err and "INTERNALERROR" not in err


def test_the_resolved_roots_are_printed_and_outside_ones_need_the_opt_in(tmp_path):
    data = tmp_path / "set"
    shutil.copytree(DEMO_DIR, data)
    manifest = data / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    header = {**json.loads(lines[0]), "roots": {"here": "speech", "up": "../elsewhere"}}
    manifest.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    (tmp_path / "elsewhere").mkdir()
    err = usage_error(run_pytest("--sseu-model=oracle", f"--sseu-data={data}", *ONE_SNR, "--collect-only"))
    assert f"root(s) up = '../elsewhere' (resolves to {tmp_path / 'elsewhere'}) lie outside" in err
    assert "here =" not in err
    ok = run_pytest("--sseu-model=oracle", f"--sseu-data={data}", *ONE_SNR, "--sseu-allow-roots", "--collect-only")
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert f"sseu root here: {data / 'speech'}\n" in ok.stdout
    assert f"sseu root up: {tmp_path / 'elsewhere'} (outside the set, --sseu-allow-roots)" in ok.stdout
