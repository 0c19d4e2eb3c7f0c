"""Records, averages over SNRs and runs, and the rendered tables."""

from __future__ import annotations

import statistics

import pytest

from sseu_harness.report.tables import table1, table2
from sseu_harness.results.records import case_record, with_averages
from sseu_harness.spec.cases import Case

LABELS = ["snr_pinf", "snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf"]
TASK_SNRS = {"ASR": LABELS[:-1], "ASC": LABELS[1:], "AT": LABELS[1:]}


def _records(runs: dict[str, list[float]], task="ASR", mode="independent", model="m"):
    return [case_record(Case(model, task, snr, mode), values, list(range(len(values))), 10, 1, 2.0)
            for snr, values in runs.items()]


def test_case_record_mean_std_and_plain_types():
    (rec,) = [r.to_json() for r in _records({"snr_0": [10.0, 20.0, 30.0]})]
    assert rec["value"] == 20.0
    assert rec["std"] == pytest.approx(statistics.stdev([10, 20, 30]))
    assert rec["runs"] == 3 and rec["n"] == 10 and rec["parse_failures"] == 1
    assert rec["clips_per_s"] == 15.0
    assert all(type(v) in (str, int, float, list, type(None)) for v in rec.values())


def test_avg_is_the_mean_over_the_task_snrs_per_run_then_over_runs():
    values = {snr: [float(i), float(i) + 2 * (i % 2)] for i, snr in enumerate(TASK_SNRS["ASR"])}
    out = [r.to_json() for r in with_averages(_records(values), TASK_SNRS)]
    avg = next(r for r in out if r["snr"] == "avg")
    per_run = [statistics.mean(v[r] for v in values.values()) for r in range(2)]
    assert avg["value"] == pytest.approx(statistics.mean(per_run))
    assert avg["std"] == pytest.approx(statistics.stdev(per_run))
    mixed = next(r for r in out if r["snr"] == "avg_mixed")
    mixed_runs = [statistics.mean(values[s][r] for s in ["snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10"]) for r in range(2)]
    assert mixed["value"] == pytest.approx(statistics.mean(mixed_runs))
    assert avg["n"] == 60 and mixed["n"] == 50


def test_refusals_are_kept_per_case_and_summed_like_parse_failures():
    records = [case_record(Case("m", "ASC", snr, "independent"), [50.0, 40.0], [0, 1], 10, k, 1.0, refusals=2 * k)
               for k, snr in enumerate(TASK_SNRS["ASC"])]
    recs = [r.to_json() for r in records]
    assert [r["refusals"] for r in recs] == [0, 2, 4, 6, 8, 10]
    out = {r["snr"]: r for r in (r.to_json() for r in with_averages(records, TASK_SNRS))}
    assert out["avg"]["refusals"] == 30 and out["avg"]["parse_failures"] == 15
    assert out["avg_mixed"]["refusals"] == 0 + 2 + 4 + 6 + 8  # snr_p10 .. snr_m10


def test_no_average_over_an_incomplete_selection():
    out = [r.to_json() for r in with_averages(_records({"snr_0": [1.0], "snr_p5": [2.0]}), TASK_SNRS)]
    assert {r["snr"] for r in out} == {"snr_0", "snr_p5"}


def test_table1_rows_are_systems_and_columns_the_task_snrs_then_avg():
    recs = _records({s: [50.0, 52.0] for s in TASK_SNRS["AT"]}, task="AT", model="a")
    recs += _records({s: [40.0] for s in TASK_SNRS["AT"]}, task="AT", model="b")
    tables = dict(table1(with_averages(recs, TASK_SNRS)))
    (title, text), = [(t, x) for t, x in tables.items() if "AT" in t]
    header = text.splitlines()[0]
    assert [h.strip() for h in header.strip("|").split("|")] == ["system", *TASK_SNRS["AT"], "avg"]
    assert "51.00 ± 1.41" in text and "| b " in text and "40.00" in text


def test_table2_compares_modes_at_avg_mixed():
    recs = []
    for mode, value in (("independent", 10.0), ("joint", 20.0), ("cot", 15.0)):
        recs += _records({s: [value] for s in TASK_SNRS["ASR"]}, mode=mode)
    title, text = table2(with_averages(recs, TASK_SNRS))
    lines = text.splitlines()[2:]
    assert [l.split("|")[2].strip() for l in lines] == ["independent", "joint", "cot"]
    assert [l.split("|")[3].strip() for l in lines] == ["10.00", "20.00", "15.00"]
