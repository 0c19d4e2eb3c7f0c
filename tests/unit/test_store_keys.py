"""Every built-in adapter's store keys are those the commit before the restructure (940dccb) wrote.

A prediction store filled before a change must serve the rerun with zero model
calls. Its keys hash each adapter's module path and its resolved settings, so
moving a class or resolving settings differently would silently orphan users'
stores. `tests/data/store_keys/golden.json` holds, per model, the keys of the
first two clips of each of its cases at 0 dB (seed 0) as 940dccb computed them
in a real session over the demo set, from the settings in `models.toml`.

Since issue 20 a served model's key also holds what its server says it serves
(`server`, asked once a session): without that part, the served models' keys
are still the golden ones, so nothing else about them changed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from model_adapters.families import served
from model_adapters.faster_whisper import adapter as faster_whisper_adapter
from model_adapters.registry import BUILTIN
from sseu_harness.models.resolve import resolve_models
from sseu_harness.run.config import BenchConfig
from sseu_harness.run.session import Bench
from sseu_harness.run.store import answer_key

DATA = Path(__file__).resolve().parents[1] / "data" / "store_keys"
GOLDEN = json.loads((DATA / "golden.json").read_text(encoding="utf-8"))
NAMED_FILES = Path("/tmp/sseu-store-keys")  # the models file names them; MGA-CLAP's must exist
SERVED = {"kimi-audio", "ltu-as", "openai", "qwen2-audio-vllm", "step-audio2"}  # chat endpoints: their keys hold the server's identity
# A stand-in for the servers at the models file's addresses: no server can listen on ports 9 and 10 here.
STAND_IN_SERVER = {"reported_by": "stand-in server of test_store_keys"}


@pytest.fixture
def bench(tmp_path, monkeypatch):
    monkeypatch.setattr(served, "served_identity", lambda *args: STAND_IN_SERVER)
    # faster-whisper's identity names the machine's CTranslate2 and instruction set; the golden keys name these
    monkeypatch.setattr(faster_whisper_adapter, "runtime", lambda: {"ctranslate2": "4.8.5", "cpu_isa": "AVX2"})
    stand_in = tmp_path / "packages" / "msclap"  # `clap` needs msclap importable; it is never imported here
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(stand_in.parent))
    for name in ("mga-clap/models/ase_model.py", "mga-clap/settings/inference_example.yaml", "mga.pt"):
        (NAMED_FILES / name).parent.mkdir(parents=True, exist_ok=True)
        (NAMED_FILES / name).touch()
    models = resolve_models(sorted(GOLDEN), BUILTIN, DATA / "models.toml")
    config = BenchConfig(models=tuple(models), snrs="0", store=tmp_path / "store.sqlite", rescore=True)
    bench = Bench(config, check_inputs=False)
    yield bench
    bench.close()


def test_the_golden_file_covers_every_built_in_adapter():
    assert sorted(GOLDEN) == sorted(BUILTIN)


def test_every_built_in_adapter_keeps_its_store_keys(bench):
    got: dict[str, dict[str, list[list[str]]]] = {}
    for case in bench.cases():
        if case.id not in GOLDEN[case.model]:  # unsupported, or the 2nd/3rd task of a joint or CoT group
            continue
        slot = bench.slot(case.model)
        assert slot.identity.get("server") == (STAND_IN_SERVER if case.model in SERVED else None)
        slot = dataclasses.replace(slot, identity={k: v for k, v in slot.identity.items() if k != "server"})
        prompt = bench.prompts.prompt(case.task, case.mode, case.model)
        got.setdefault(case.model, {})[case.id] = [
            [item.id, answer_key(bench.answers._identity(slot, item, case, prompt, 0))]
            for item in bench.items_at(case.snr)[:2]
        ]
    assert got == GOLDEN
