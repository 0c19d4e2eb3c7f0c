"""The paper's figures as data: internally consistent, so a typo in the data file fails."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.spec.paper import load_paper_figures
from sseu_harness.spec.snr import MIXED_SNRS_DB, PAPER_SNRS_DB, parse_snr, snr_label, tasks_at

PAPER = load_paper_figures()
MIXED = [snr_label(db) for db in MIXED_SNRS_DB]


def _task_snrs(task: str) -> list[str]:
    return [snr_label(db) for db in PAPER_SNRS_DB if task in tasks_at(db)]


def test_every_system_and_row_is_there() -> None:
    assert PAPER.systems == ("LTU-AS", "Qwen2-Audio-Instruct", "Kimi-Audio", "Step-Audio 2 Mini", "CLAP", "LAION-CLAP",
                             "MGA-CLAP")
    rows = {(system, task) for system, task, _ in PAPER.table1}
    lalms = {"LTU-AS", "Qwen2-Audio-Instruct", "Kimi-Audio", "Step-Audio 2 Mini"}
    assert rows == {(s, "ASR") for s in lalms} | {(s, t) for s in PAPER.systems for t in ("ASC", "AT")}
    for system, task in rows:  # six conditions and the average, each row
        cells = {snr for s, t, snr in PAPER.table1 if (s, t) == (system, task)}
        assert cells == set(_task_snrs(task)) | {"avg"}, (system, task)
    assert {(s, m) for s, _, m in PAPER.table2} == {(s, m) for s in ("Qwen2-Audio-Instruct", "Kimi-Audio",
                                                                      "Step-Audio 2 Mini") for m in ("independent", "joint")}


@pytest.mark.parametrize("system,task", sorted({(s, t) for s, t, _ in PAPER.table1}))
def test_table1_average_is_the_mean_of_its_six_cells(system: str, task: str) -> None:
    cells = [PAPER.table1[(system, task, snr)].value for snr in _task_snrs(task)]
    assert len(cells) == 6
    assert math.isclose(sum(cells) / 6, PAPER.table1[(system, task, "avg")].value, abs_tol=0.011)


@pytest.mark.parametrize("system,task", sorted({(s, t) for s, t, _ in PAPER.table2}))
def test_table2_independent_is_the_mean_of_the_five_mixed_table1_cells(system: str, task: str) -> None:
    mixed = [PAPER.table1[(system, task, snr)].value for snr in MIXED]
    assert math.isclose(sum(mixed) / 5, PAPER.table2[(system, task, "independent")].value, abs_tol=0.011)


def test_figures_worked_by_hand() -> None:
    """Cells read off the paper by eye, and the std rule: the CLAP baselines have none."""
    qwen_asr = PAPER.figure("Qwen2-Audio-Instruct", "ASR", "snr_m10", "independent")
    assert (qwen_asr.table, qwen_asr.value, qwen_asr.std) == ("1", 37.71, 0.2)
    assert PAPER.figure("Kimi-Audio", "ASR", "avg", "independent").value == 8.78
    assert PAPER.figure("LAION-CLAP", "ASC", "snr_minf", "independent").std is None
    assert PAPER.figure("Qwen2-Audio-Instruct", "AT", "avg_mixed", "joint") == \
        type(qwen_asr)("Qwen2-Audio-Instruct", "2", 16.52, 1.1)
    assert PAPER.figure("Qwen2-Audio-Instruct", "ASR", "snr_0", "joint") is None  # Table 1 is independent only
    assert PAPER.figure("CLAP", "ASC", "avg_mixed", "independent") is None  # Table 2 has no CLAP row
    assert PAPER.figure("Kimi-Audio", "AT", "avg_mixed", "cot") is None  # Fig. 3 has no numbers
    assert [PAPER.has_std(s) for s in PAPER.systems] == [True] * 4 + [False] * 3


def test_snr_labels_are_the_harness_labels() -> None:
    labels = {snr for _, _, snr in PAPER.table1} - {"avg"}
    assert labels == {snr_label(parse_snr(label)) for label in labels} == {snr_label(db) for db in PAPER_SNRS_DB}


def test_unknown_system_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown paper_system 'Qwen2-Audio'.*'Qwen2-Audio-Instruct'.*'MGA-CLAP'"):
        PAPER.check_system("Qwen2-Audio", "--sseu-model-set")


# --- which paper system a model is, and what the protocol sets ---------------------------------------

QWEN, SCORES, PROBE = ("tests.helpers.adapters:PaperQwen", "tests.helpers.adapters:ScoresOracle",
                       "tests.helpers.adapter_probe:Probe")


def _resolve(tmp_path, file_text: str, protocol: str = "paper"):
    from model_adapters.registry import BUILTIN
    from sseu_harness.models.resolve import resolve_models
    from sseu_harness.run.protocol import protocol_settings

    models = tmp_path / "models.toml"
    models.write_text('[models.scores-oracle]\npaper_system = "LAION-CLAP"\n' + file_text, encoding="utf-8")
    return {m.label: m for m in resolve_models([QWEN, SCORES, PROBE], BUILTIN, models,
                                               protocol_settings=protocol_settings(protocol))}


def test_protocol_sets_decoding_only_where_declared_and_not_set(tmp_path) -> None:
    got = _resolve(tmp_path, "")
    qwen, scores, probe = got["paper-qwen"], got["scores-oracle"], got["probe"]
    assert (qwen.settings, qwen.decoding, qwen.paper_system) == ({"decoding": "model"}, "model", "Qwen2-Audio-Instruct")
    assert (scores.settings, scores.decoding, scores.paper_system) == ({}, None, "LAION-CLAP")  # taken out of the key
    assert (probe.settings, probe.decoding, probe.paper_system) == ({}, None, None)
    assert "paper_system" not in str(scores.identity())
    explicit = _resolve(tmp_path, '[models.paper-qwen]\ndecoding = "greedy"\n')["paper-qwen"]
    assert explicit.settings == {"decoding": "greedy"}  # an explicit setting wins
    harness = _resolve(tmp_path, "", protocol="harness")["paper-qwen"]
    assert (harness.settings, harness.decoding) == ({}, "greedy")  # the schema's default, unchanged


def test_paper_system_setting_overrides_the_adapters_and_is_checked(tmp_path) -> None:
    got = _resolve(tmp_path, '[models.paper-qwen]\npaper_system = "Kimi-Audio"\n')
    assert got["paper-qwen"].paper_system == "Kimi-Audio"
    with pytest.raises(ConfigError, match=r"models\.probe\].*unknown paper_system 'kimi-audio'.*'Kimi-Audio'"):
        _resolve(tmp_path, '[models.probe]\npaper_system = "kimi-audio"\n')


@pytest.mark.parametrize("name,system", [("ltu-as", "LTU-AS"), ("qwen2-audio", "Qwen2-Audio-Instruct"),
                                         ("kimi-audio", "Kimi-Audio"), ("step-audio2", "Step-Audio 2 Mini"),
                                         ("clap", "CLAP"), ("laion-clap", "LAION-CLAP"), ("mga-clap", "MGA-CLAP"),
                                         ("qwen2-audio-vllm", "Qwen2-Audio-Instruct"),
                                         ("oracle", None), ("openai", None)])
def test_builtin_adapters_name_their_paper_system(name: str, system: str | None) -> None:
    from model_adapters.registry import BUILTIN
    from sseu_harness.models.resolve import find_factory

    assert find_factory(name, BUILTIN).paper_system == system


def test_protocol_runs_and_embedder(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sseu_harness.run.protocol import check_key, choose

    specs = list(_resolve(tmp_path, "").values())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    paper = choose("paper", specs, None, None)
    assert (paper.runs, dict(paper.model_runs), paper.embedder) == (3, {"scores-oracle": 1},
                                                                     "openai:text-embedding-3-large")
    explicit = choose("paper", specs, 2, "minilm")
    assert (explicit.runs, dict(explicit.model_runs), explicit.embedder) == (2, {}, "minilm")
    harness = choose("harness", specs, None, None)
    assert (harness.runs, dict(harness.model_runs), harness.embedder) == (1, {}, "minilm")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY.*OPENAI_BASE_URL.*--sseu-embedder"):
        check_key("paper", None)
    check_key("paper", "minilm")  # an explicit embedder needs no key
    check_key("harness", None)


def test_inside_interval() -> None:
    from sseu_harness.results.paper import inside_interval
    from sseu_harness.results.records import Record

    base = Record(model="m", task="ASR", snr="snr_m10", mode="independent", metric="WER", value=35.0, std=0.0, runs=1,
                  run_values=[35.0], n=26, parse_failures=0,
                  paper={"system": "Qwen2-Audio-Instruct", "table": "1", "value": 37.71, "std": 0.2, "delta": -2.71})
    assert inside_interval(base) is None
    assert inside_interval(replace(base, ci_low=30.0, ci_high=37.71)) is True
    assert inside_interval(replace(base, ci_low=30.0, ci_high=37.7)) is False


def _meta(**changes) -> dict:
    meta = {"protocol": "paper", "embedder": "openai:text-embedding-3-large", "runs": 3, "normalizer": "n-1",
            "manifest": {"name": "sseu-bench", "sha256": "ab" * 32}, "prompts": {"version": "p-1", "sha256": "cd" * 32},
            "mixer": "mix-2", "parser": "parser-2", "taxonomy": "tax-1",
            "models": {"qwen": {"paper_system": "Qwen2-Audio-Instruct", "decoding": "model", "runs": 3},
                       "laion": {"paper_system": "LAION-CLAP", "decoding": None, "runs": 1,
                                 "settings": {"crop": "center", "scene_template": "a sound of {name}"}},
                       "other": {"decoding": "greedy", "runs": 3}}}
    return {**meta, **changes}


def test_departures_are_computed_from_the_meta() -> None:
    from sseu_harness.results.paper import departures

    found = {d.topic: (d.ours, d.paper) for d in departures(_meta())}
    assert "protocol" not in found and "embedder" not in found  # as the paper
    assert not [t for t in found if t.startswith("runs") or t == "decoding · qwen" or t.endswith("other")]
    assert found["data set"][0] == f"sseu-bench (sha256 {'ab' * 6})"
    assert found["decoding · laion"][0] == "no decoding setting (none needed: it scores classes)"
    assert found["CLAP texts · laion"][0] == "scene_template 'a sound of {name}', event_template '{name}' over the " \
                                             "names of taxonomy tax-1"
    assert found["CLAP crop · laion"][0] == "center"
    assert found["SNR and level rule"][0].endswith("(mixer mix-2)")
    models = _meta()["models"]
    changed = _meta(embedder="minilm", runs=2, models={**models, "qwen": {**models["qwen"], "decoding": "greedy", "runs": 2}})
    del changed["protocol"]  # a harness-protocol report records none
    found = {d.topic: (d.ours, d.paper) for d in departures(changed)}
    assert found["protocol"][0] == "harness"
    assert found["embedder"] == ("minilm", "openai:text-embedding-3-large")
    assert found["runs · qwen"] == ("2", "3 (Qwen2-Audio-Instruct)")
    assert found["decoding · qwen"][0] == "greedy"
    assert departures({**_meta(), "models": {"other": models["other"]}}) == []  # no paper system, no departures
