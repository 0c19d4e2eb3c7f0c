"""Model settings (models file, options, validation), the registry and entry points, devices, lazy imports."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_adapters.registry import BUILTIN
from model_adapters.utils import devices
from model_adapters.utils.devices import check_workers_fit, choose_device
from model_adapters.utils.imports import require
from sseu_harness.errors import ConfigError
from sseu_harness.models.resolve import entry_point_models, find_factory, known_models, resolve_models
from sseu_harness.models.settings import (
    Schema,
    Setting,
    load_models_file,
    parse_assignments,
    parse_value,
    resolve_model_settings,
)
from tests.helpers.adapter_probe import Probe
from tests.helpers.session_runner import REPO, run_pytest

FACTORIES = {"probe": Probe, "tests.helpers.adapter_probe:Probe": Probe}
LABELS = {"probe": "probe", "tests.helpers.adapter_probe:Probe": "probe"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- schema ----------------------------------------------------------------------------------


def test_schema_checks_keys_kinds_and_choices():
    schema = Schema(n=Setting("pos_int", 1), dtype=Setting("str", "auto", choices=("auto", "float32")),
                    tokens=Setting("tokens", None))
    assert schema.parse("m", {"n": 3}) == {"n": 3, "dtype": "auto", "tokens": None}
    with pytest.raises(ConfigError, match=r"^here: unknown setting 'batchsize' for model m; known settings: dtype, n, tokens$"):
        schema.parse("m", {"batchsize": 2}, "here")
    with pytest.raises(ConfigError, match="n must be an integer >= 1, got 0"):
        schema.parse("m", {"n": 0})
    with pytest.raises(ConfigError, match="n must be an integer >= 1, got True"):
        schema.parse("m", {"n": True})
    with pytest.raises(ConfigError, match="dtype must be one of auto, float32"):
        schema.parse("m", {"dtype": "int8"})
    assert schema.parse("m", {"tokens": {"cot": 900}})["tokens"] == {"cot": 900}
    with pytest.raises(ConfigError, match="tokens must be an integer >= 1 or a table by mode"):
        schema.parse("m", {"tokens": {"chat": 9}})


@pytest.mark.parametrize("kind, value, message", [
    ("float", math.nan, "t must be a finite number, got nan"),
    ("nonneg", math.inf, "t must be a finite number >= 0, got inf"),
    ("pos", math.nan, "t must be a finite number > 0, got nan"),
])
def test_numeric_settings_must_be_finite(kind, value, message):
    schema = Schema(t=Setting(kind, 1.0))
    assert schema.parse("m", {"t": 2})["t"] == 2
    with pytest.raises(ConfigError, match=message):  # TOML spells them nan and inf: a NaN timeout never expires
        schema.parse("m", {"t": value})


@pytest.mark.parametrize("key", ["api_key", "openai_api_key", "hf_token", "password", "key"])
def test_secrets_are_refused_as_settings(key):
    with pytest.raises(ConfigError, match=f"'{key}' looks like a secret") as info:
        Schema(n=Setting("int", 1)).parse("m", {key: "s3cr3t"}, "models file x.toml [models.m]")
    assert "s3cr3t" not in str(info.value) and "api_key_env" in str(info.value)


def test_values_typed_on_the_command_line():
    assert parse_value("4") == 4 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("/models/qwen") == "/models/qwen" and parse_value('["text"]') == ["text"]
    assert parse_value("{cot = 900}") == {"cot": 900}
    assert parse_assignments(["crop=seeded", "batch_size=4"], "x") == {"crop": "seeded", "batch_size": 4}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_assignments(["crop"], "--sseu-model-set")


# --- models file and options -------------------------------------------------------------------


def test_models_file_is_strict(tmp_path):
    with pytest.raises(ConfigError, match="unknown top-level key 'model'"):
        load_models_file(write(tmp_path / "a.toml", '[model.qwen]\nmodel = "x"\n'))
    with pytest.raises(ConfigError, match="cannot read models file"):
        load_models_file(write(tmp_path / "b.toml", "[models.qwen\n"))
    with pytest.raises(ConfigError, match="models.qwen must be a table"):
        load_models_file(write(tmp_path / "c.toml", 'models = {qwen = 3}\n'))
    assert load_models_file(write(tmp_path / "d.toml", '[models.probe]\nbatch_size = 2\n')) == {"probe": {"batch_size": 2}}


def test_file_tables_match_spec_or_label_and_options_override_them(tmp_path):
    models = write(tmp_path / "m.toml", '[models.probe]\nbatch_size = 2\nmodel = "from-file"\n'
                                        '[models."tests.helpers.adapter_probe:Probe"]\ntemperature = 0.5\n'
                                        '[models.not-selected]\nwhatever = 1\n')
    got = resolve_model_settings(["tests.helpers.adapter_probe:Probe"], FACTORIES, LABELS, models, {"model": "from-option"})
    assert got == {"probe": {"batch_size": 2, "model": "from-option", "temperature": 0.5}}


def test_unknown_keys_name_the_file_table_and_known_keys(tmp_path):
    models = write(tmp_path / "m.toml", "[models.probe]\nbatch = 2\n")
    with pytest.raises(ConfigError) as info:
        resolve_model_settings(["probe"], FACTORIES, LABELS, models)
    assert str(info.value) == (f"models file {models} [models.probe]: unknown setting 'batch' for model probe; "
                               "known settings: batch_size, extra, model, temperature")


def test_single_model_options_need_a_single_model():
    with pytest.raises(ConfigError, match=r"configure a single model, but 2 are selected \(probe, tests.helpers.adapter_probe:Probe\)"):
        resolve_model_settings(["probe", "tests.helpers.adapter_probe:Probe"], FACTORIES, LABELS, None, {"batch_size": 2})


def test_factories_without_a_schema_are_checked_against_their_signature():
    def factory(*, model: str = "x", depth: int = 1):
        return None

    factory.name = "sig"
    assert resolve_model_settings(["sig"], {"sig": factory}, {"sig": "sig"}, None, {"depth": 2}) == {"sig": {"depth": 2}}
    with pytest.raises(ConfigError, match="unknown setting 'width' for model sig; known settings: depth, model"):
        resolve_model_settings(["sig"], {"sig": factory}, {"sig": "sig"}, None, {"width": 2})


@pytest.mark.parametrize(
    "model, single, message",
    [
        ("qwen2-audio", {"base_url": "http://127.0.0.1:8000/v1"}, "unknown setting 'base_url' for model qwen2-audio"),
        ("kimi-audio", {},
         "model kimi-audio runs in an environment of its own (Python 3.10, torch 2.4.1, flash-attn, CUDA; kimia_infer "
         "from GitHub) and is evaluated over HTTP: serve it there with `python -m model_adapters.serve.openai_server "
         "--model kimi-audio --model-path moonshotai/Kimi-Audio-7B-Instruct --port 8000` and run "
         "`pytest --sseu-model=kimi-audio --sseu-base-url=http://HOST:8000/v1`"),
        ("ltu-as", {}, "python -m model_adapters.serve.openai_server --model ltu-as"),
        ("openai", {}, "model openai needs a base URL: --sseu-base-url URL"),
        ("mga-clap", {}, "model mga-clap needs repo: clone https://github.com/Ming-er/MGA-CLAP"),
        ("mga-clap", {"repo": "/nonexistent", "model": "/x.pt"}, "/nonexistent is not a clone of"),
        ("step-audio2", {}, "model step-audio2 needs package stepaudio2: git clone https://github.com/stepfun-ai/Step-Audio2"),
        ("clap", {}, "model clap needs package msclap: pip install msclap"),
        ("laion-clap", {"crop": "random"}, "crop must be one of center, start, seeded"),
        ("whisper", {"device": "gpu"}, "device must be auto, cpu, cuda or cuda:N"),
    ],
)
def test_settings_are_checked_before_any_model_loads(model, single, message, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError) as info:
        resolve_models([model], BUILTIN, None, single)
    assert message in str(info.value)


def test_bad_model_settings_are_usage_errors_at_start():
    proc = run_pytest("--sseu-model=kimi-audio", "--collect-only")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "model kimi-audio runs in an environment of its own" in proc.stderr
    assert "serve it there with `python -m model_adapters.serve.openai_server --model kimi-audio" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_more_workers_than_gpus_is_refused_at_start_with_the_way_out():
    proc = run_pytest("--sseu-model=qwen2-audio", "-n", "2", "-p", "tests.helpers.adapter_fake_gpus", "--collect-only")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "model qwen2-audio runs in-process on one GPU per pytest-xdist worker, but 2 workers share 1 GPU(s)" in proc.stderr
    assert "vllm serve Qwen/Qwen2-Audio-7B-Instruct" in proc.stderr
    assert "--sseu-model=openai --sseu-base-url=http://127.0.0.1:8000/v1" in proc.stderr


# --- registry and entry points ---------------------------------------------------------------


def test_every_builtin_adapter_is_named_as_registered():
    for name, target in BUILTIN.items():
        factory = find_factory(name, BUILTIN)
        assert factory.name == name, target
        assert not any(bad in name.lower() for bad in ("asr", "asc", "at", "snr_")), name


def test_third_party_adapters_register_through_an_entry_point_and_get_their_settings(tmp_path, monkeypatch):
    dist = tmp_path / "sseu_probe_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sseu-probe-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sseu_harness.models]\nprobe-ep = tests.helpers.adapter_probe:Probe\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert entry_point_models()["probe-ep"] == "tests.helpers.adapter_probe:Probe"
    assert "probe-ep" in known_models(BUILTIN)
    assert find_factory("probe-ep", BUILTIN) is Probe
    # a session: the entry point resolves, and the models file and the options reach the adapter
    log = tmp_path / "probe.jsonl"
    models = write(tmp_path / "m.toml", '[models.probe]\nbatch_size = 13\nextra = {a = 1}\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)]), "SSEU_TEST_PROBE_LOG": str(log)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--sseu-model=probe-ep",
                           f"--sseu-models-file={models}", "--sseu-model-path=/models/p",
                           "--sseu-model-set=temperature=0.25", "--collect-only", "-q"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sseu::probe-ASC-snr_0-independent" in proc.stdout
    (line,) = log.read_text().splitlines()
    assert json.loads(line) == {"settings": {"batch_size": 13, "extra": {"a": 1}, "model": "/models/p",
                                             "temperature": 0.25}, "workers": 1}


# --- devices -------------------------------------------------------------------------------------


def test_each_xdist_worker_takes_its_own_gpu():
    hint = "serve it"
    assert choose_device("m", "auto", hint, worker=1, workers=2, gpus=2) == "cuda:1"
    assert choose_device("m", "cuda", hint, worker=0, workers=4, gpus=4) == "cuda:0"
    assert choose_device("m", "auto", hint, worker=None, workers=1, gpus=2) == "cuda:0"
    assert choose_device("m", "auto", hint, worker=3, workers=4, gpus=0) == "cpu"  # CPU machine: all on the CPU
    assert choose_device("m", "cuda:3", hint, worker=0, workers=8, gpus=1) == "cuda:3"  # explicit: as given
    assert choose_device("m", "cpu", hint, worker=0, workers=8, gpus=8) == "cpu"
    with pytest.raises(ConfigError, match=r"but 3 workers share 2 GPU\(s\); run with -n 2 \(or fewer\), .*serve it"):
        choose_device("m", "auto", hint, worker=2, workers=3, gpus=2)
    with pytest.raises(ConfigError, match="device cuda was asked for but no CUDA GPU is visible"):
        choose_device("m", "cuda", hint, worker=None, workers=1, gpus=0)
    with pytest.raises(ConfigError, match="device must be auto, cpu, cuda or cuda:N"):
        choose_device("m", "gpu0", hint)
    check_workers_fit("m", "auto", 8, hint, gpus=0)  # no GPU: nothing to oversubscribe


def test_the_worker_comes_from_the_xdist_environment(monkeypatch):
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 4)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    assert choose_device("m", "auto", "hint") == "cuda:2"
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "5")
    with pytest.raises(ConfigError, match="5 workers share 4 GPU"):
        choose_device("m", "auto", "hint")
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert devices.xdist_worker() == (None, 1)


# --- lazy imports --------------------------------------------------------------------------------


def test_a_missing_package_is_one_line_naming_what_to_install(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as info:
        require("msclap_not_installed_here", "clap", "pip install msclap")
    assert str(info.value) == "model clap needs package msclap_not_installed_here: pip install msclap"
    assert info.value.__cause__ is None and info.value.__context__ is None
    (tmp_path / "half_installed.py").write_text("import a_dependency_that_is_missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="importing half_installed failed because a_dependency_that_is_missing is missing"):
        require("half_installed", "clap", "pip install msclap")
    sys.modules.pop("half_installed", None)
