"""The end of a run, shared by the plugin's controller and `sseu merge`.

One streaming pass over the cases' per-clip rows (in case order) writes
predictions.jsonl and keeps only each case's bootstrap replicates, so memory
does not grow with the number of clips. Then averages, intervals, gates and
the summary files, all into one all-or-nothing report, in a new numbered
run folder of the report dir (`history.py`); a complete run then becomes what
the top of the report dir shows.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from sseu_harness.errors import ConfigError
from sseu_harness.report.drilldown import drill
from sseu_harness.report.history import POINTER, History
from sseu_harness.report.reader import ReportDir
from sseu_harness.report.writer import ReportWriter, write_summary_files
from sseu_harness.results.bootstrap import CaseClips, draw
from sseu_harness.results.gates import (
    Comparison,
    GateResult,
    HearingCheck,
    average_bounds,
    case_bound_results,
    judge,
    pair,
    regression_result,
)
from sseu_harness.results.intervals import INTERVAL_METHOD, attach_intervals
from sseu_harness.results.paper import attach_paper
from sseu_harness.results.records import Record, with_averages
from sseu_harness.results.recount import recounted
from sseu_harness.results.thresholds import Bound
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.taxonomy import load_taxonomy


@dataclass
class Summary:
    records: list[Record]
    gates: list[GateResult]
    comparisons: list[Comparison]
    run: Path  # the run folder this report went to
    promoted: bool  # whether the top of the report dir now shows it
    promote_error: str | None = None  # why a complete run could not become the latest (the top is unchanged)
    prune_error: str | None = None  # why old runs could not be removed (the report itself is whole)


def summarize(
    report_dir: Path,
    case_records: list[Record],
    case_rows: Iterable[tuple[str, list[ClipRow]]],
    clip_ids: Iterable[str],
    meta: dict,
    *,
    complete: bool = True,
    failed_cases: int = 0,
    keep_runs: int | None = None,
    **options,
) -> Summary:
    """Write the report into a new run folder (`write_report` takes the `options`); a `complete` run
    becomes the latest, shown at the top. `failed_cases`: cases the session failed (a bound, the error
    rate), recorded so that such a run is never `previous`. `keep_runs` removes all but the newest runs
    (never the latest)."""
    history = History(Path(report_dir))
    run = history.new_run()
    about_run = {"id": run.name, "complete": complete, **({"failed_cases": failed_cases} if failed_cases else {})}
    try:
        records, gates, comparisons = write_report(run, case_records, case_rows, clip_ids, {**meta, "run": about_run},
                                                   **options)
    except BaseException:
        shutil.rmtree(run, ignore_errors=True)
        raise
    promote_error = prune_error = None
    if complete:
        try:
            history.promote(run)
        except OSError as exc:
            promote_error = (f"run {run.name} is written to {run} but could not become the latest ({exc}); "
                             f"the top of {report_dir} and its {POINTER} still show the previous run")
    if keep_runs:
        try:
            history.prune(keep_runs)
        except OSError as exc:
            prune_error = f"the report is whole, but old runs of {history.runs_dir} could not be removed ({exc})"
    return Summary(records, gates, comparisons, run, complete and promote_error is None, promote_error, prune_error)


def write_report(
    folder: Path,
    case_records: list[Record],
    case_rows: Iterable[tuple[str, list[ClipRow]]],
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
) -> tuple[list[Record], list[GateResult], list[Comparison]]:
    """One report into `folder`; `case_bounds` also judges bounds on single cases (merge: the cases ran elsewhere);
    `hearing` runs the hearing gate (`gates.HearingCheck`) on the rows. Each case record is checked against
    its rows (`recount.recounted`): a case without rows, or with a figure its rows do not give, is refused."""
    by_case = {r.case: r for r in case_records}
    checked: dict[str, Record] = {}
    draws = draw(list(clip_ids), resamples, seed)
    baseline_rows = baseline.rows_by_case() if baseline else {}
    replicates: dict[str, np.ndarray] = {}
    smallest: dict[str, int | None] = {}
    paired = []
    meta = {**meta, "bootstrap": {"resamples": resamples, "seed": seed, "interval": INTERVAL_METHOD},
            "gates": {"thresholds": [b.where for b in bounds], "margin": margin,
                      "baseline": str(baseline.path) if baseline else None, "hearing": hearing}}
    heard = HearingCheck.from_meta(meta) if hearing else None
    event_ids = list(load_taxonomy().event_ids)
    drills = []
    with ReportWriter(folder) as out:
        predictions = out.stream("predictions.jsonl")
        for case, rows in case_rows:
            predictions.writelines(row.to_json() + "\n" for row in rows)
            record = by_case.get(case)
            if record is None:
                continue
            clips = CaseClips.from_rows(record.task, rows)
            checked[case] = recounted(record, clips, rows)
            drills.append(drill(case, record.task, rows, event_ids))
            if heard is not None:
                heard.add(case, record.model, rows)
            replicates[case] = clips.per_run(clips.weights(draws))
            smallest[case] = clips.smallest_class()
            if case in baseline_rows:
                before = CaseClips.from_rows(record.task, baseline_rows[case])
                paired.append(pair(case, clips, before, draws))
        without = sorted(by_case.keys() - checked.keys())
        if without:
            raise ConfigError(f"{len(without)} case(s) have a record but no per-clip rows, so no figure of theirs "
                              f"can be checked: {', '.join(without[:5])}{' ...' if len(without) > 5 else ''}")
        records = attach_paper(attach_intervals(with_averages(checked.values(), meta["task_snrs"]), replicates, draws,
                                                smallest), meta)
        results = []
        if case_bounds:
            results += case_bound_results(list(bounds), list(checked.values()))
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
        write_summary_files(out, records, meta, gates, [c.as_dict() for c in comparisons], drills)
    return records, results, comparisons
