"""The paper's figures as data: internally consistent, so a typo in the data file fails."""

from __future__ import annotations

import math

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
