"""The end of a run, shared by the plugin's controller and `sseu merge`.

One streaming pass over the cases' per-clip rows (in case order) writes
predictions.jsonl and keeps only each case's bootstrap replicates, so memory
does not grow with the number of clips. Then averages, intervals, gates and
the summary files, all into one all-or-nothing report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .bootstrap import CaseClips, draw
from .gates import Comparison, GateResult, average_bounds, judge, pair, regression_result
from .hearing import HearingCheck
from .records import with_averages
from .report import ReportWriter, write_summary_files
from .reportdir import ReportDir
from .thresholds import Bound
from .uncertainty import attach_intervals


@dataclass
class Summary:
    records: list[dict]
    gates: list[GateResult]
    comparisons: list[Comparison]


def summarize(
    report_dir: Path,
    case_records: list[dict],
    case_rows: Iterable[tuple[str, list[dict]]],
    clip_ids: Iterable[str],
    meta: dict,
    *,
    bounds: list[Bound] = (),
    selected: set[tuple[str, str, str]] = frozenset(),
    baseline: ReportDir | None = None,
    margin: float = 1.0,
    resamples: int = 1000,
    seed: int = 0,
    case_bounds: bool = False,
    hearing: bool = True,
) -> Summary:
    """Write the report; `case_bounds` also judges bounds on single cases (merge: the cases ran elsewhere);
    `hearing` runs the hearing gate (`hearing.py`) on the rows."""
    records = with_averages(case_records, meta["task_snrs"])
    by_case = {r["case"]: r for r in records if "case" in r}
    draws = draw(list(clip_ids), resamples, seed, max_runs=max((r["runs"] for r in case_records), default=1))
    baseline_rows = baseline.rows_by_case() if baseline else {}
    replicates: dict[str, np.ndarray] = {}
    paired = []
    meta = {**meta, "bootstrap": {"resamples": resamples, "seed": seed},
            "gates": {"thresholds": [b.where for b in bounds], "margin": margin,
                      "baseline": str(baseline.path) if baseline else None, "hearing": hearing}}
    heard = HearingCheck.from_meta(meta) if hearing else None
    with ReportWriter(report_dir) as out:
        predictions = out.stream("predictions.jsonl")
        for case, rows in case_rows:
            predictions.writelines(json.dumps(row, sort_keys=True) + "\n" for row in rows)
            record = by_case.get(case)
            if record is None:
                continue
            if heard is not None:
                heard.add(case, record["model"], rows)
            clips = CaseClips.from_rows(record["task"], rows)
            replicates[case] = clips.per_run(clips.weights(draws))
            if case in baseline_rows:
                before = CaseClips.from_rows(record["task"], baseline_rows[case])
                paired.append(pair(case, clips, before, draws))
        attach_intervals(records, replicates, draws)
        results = []
        if case_bounds:
            results += [GateResult(f"bound::{r['case']}", False, b.breach(r)) for b in bounds if not b.on_average
                        for r in by_case.values() if b.matches(r) and b.breach(r)]
        results += average_bounds(list(bounds), records, selected)
        comparisons = judge(paired, margin) if baseline else []
        if baseline:
            results.append(regression_result(comparisons, margin))
        figures = {}
        judged = heard.result(records) if heard is not None else None
        if judged:
            results.append(judged[0])
            figures[judged[0].name] = judged[1]
        gates = [{**g.__dict__, **({"figures": figures[g.name]} if g.name in figures else {})} for g in results]
        write_summary_files(out, records, meta, gates, [c.as_dict() for c in comparisons])
    return Summary(records, results, comparisons)
