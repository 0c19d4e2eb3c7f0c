"""SNR labels, the case grid and comma-list options."""

from __future__ import annotations

import math

import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.spec.cases import Case, build_cases, parse_choice_list, parse_snr_list
from sseu_harness.spec.snr import PAPER_SNRS_DB, parse_snr, snr_label

PAPER_LABELS = ["snr_pinf", "snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf"]


def test_labels_of_the_paper_grid_and_other_values():
    assert [snr_label(db) for db in PAPER_SNRS_DB] == PAPER_LABELS
    assert snr_label(3) == "snr_p3"
    assert snr_label(-2.5) == "snr_m2_5"
    for label in PAPER_LABELS + ["snr_p3", "snr_m2_5"]:
        assert snr_label(parse_snr(label)) == label
    assert parse_snr("-10") == -10.0 and parse_snr("+inf") == math.inf and parse_snr("5dB") == 5.0


@pytest.mark.parametrize("bad", ["loud", "snr_x5", "nan", ""])
def test_unknown_snr_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="SNR"):
        parse_snr(bad)


def test_grid_has_54_cases_per_model_with_the_paper_exclusions():
    cases = build_cases(["oracle"], PAPER_LABELS)
    assert len(cases) == 54
    ids = {c.id for c in cases}
    assert "oracle-ASR-snr_pinf-independent" in ids
    assert "oracle-ASR-snr_minf-independent" not in ids
    assert "oracle-AT-snr_pinf-cot" not in ids and "oracle-ASC-snr_pinf-joint" not in ids
    assert "oracle-AT-snr_minf-cot" in ids
    assert len(build_cases(["a", "b"], PAPER_LABELS)) == 108


def test_group_joins_the_task_cases_of_joint_and_cot_only():
    joint = [Case("m", t, "snr_0", "joint") for t in ("ASR", "ASC", "AT")]
    assert len({c.group for c in joint}) == 1
    independent = [Case("m", t, "snr_0", "independent") for t in ("ASR", "ASC", "AT")]
    assert len({c.group for c in independent}) == 3
    # a group's cases are adjacent in the grid, so a worker can drop shared answers early
    cases = build_cases(["m"], PAPER_LABELS)
    groups = [c.group for c in cases]
    for group in set(groups):
        first = groups.index(group)
        assert groups[first:first + groups.count(group)] == [group] * groups.count(group)


def test_choice_lists():
    assert parse_choice_list("at,asr", ("ASR", "ASC", "AT"), "--sseu-tasks") == ["AT", "ASR"]
    assert parse_choice_list(None, ("ASR",), "--x") == ["ASR"]
    with pytest.raises(ConfigError, match="--sseu-modes: unknown value 'cott'"):
        parse_choice_list("joint,cott", ("independent", "joint", "cot"), "--sseu-modes")
    assert parse_snr_list("-10,snr_p5", PAPER_LABELS) == ["snr_m10", "snr_p5"]
    with pytest.raises(ConfigError, match="snr_p3"):
        parse_snr_list("3", PAPER_LABELS)
