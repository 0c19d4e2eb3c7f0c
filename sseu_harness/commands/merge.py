"""Join the report dirs of shards (or machines, or CI jobs) into one report, and apply the gates."""

from __future__ import annotations

import argparse
import heapq
import sys
from dataclasses import replace
from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.report import tables
from sseu_harness.report.reader import ReportDir, load_report_dir
from sseu_harness.report.summarize import summarize
from sseu_harness.results.compat import check_same_config
from sseu_harness.results.gates import check_gates_config
from sseu_harness.results.paper import departures
from sseu_harness.run.protocol import HARNESS, PROTOCOLS
from sseu_harness.results.thresholds import load_thresholds
from sseu_harness.spec.snr import sort_key

HELP = "join report dirs (e.g. of --sseu-shard runs) into one report and apply the gates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", type=Path, help="report dirs to join")
    parser.add_argument("--out", type=Path, required=True, help="where the joined report goes")
    parser.add_argument("--thresholds", type=Path, help="bounds (TOML) to apply to the joined records")
    parser.add_argument("--baseline", type=Path, help="report dir of an earlier run for the regression gate")
    parser.add_argument("--margin", type=float, default=1.0, help="points a case may get worse (default 1)")
    parser.add_argument("--bootstrap", type=int, default=None, help="resamples (default: as the reports)")
    parser.add_argument("--no-hearing-check", "--sseu-no-hearing-check", dest="no_hearing_check",
                        action="store_true", help="skip the hearing gate (answers that do not depend on the audio)")
    parser.add_argument("--bootstrap-seed", type=int, default=None, help="seed (default: as the reports)")
    parser.add_argument("--ci", action="store_true", help="terminal tables also show each cell's 95%% interval")
    parser.add_argument("--protocol", "--sseu-protocol", dest="protocol", choices=PROTOCOLS, default=None,
                        help="refuse a report not run under this protocol (paper: the paper's runs, decoding and "
                             "embedder; harness: the defaults)")


# what a joined report's summary is written from (`report/writer.py`): every report must state it
MERGE_META = ("manifest", "prompts", "embedder", "normalizer", "seeds", "harness_version", "task_snrs")


def check_joinable(reports: list[ReportDir]) -> None:
    """Reports join only when they ran disjoint cases of one benchmark in one configuration."""
    first, owner = reports[0], {}
    for report in reports:
        missing = [key for key in MERGE_META if key not in report.meta]
        if missing or not isinstance(report.meta["task_snrs"], dict):
            raise ConfigError(f"{report.path / 'summary.json'}: its meta lacks {', '.join(missing) or 'task_snrs'}, "
                              "so it cannot be joined; rerun the benchmark to rewrite it")
    for other in reports[1:]:
        check_same_config(first.meta, other.meta, str(other.path),
                          f"join reports of one benchmark in one configuration only (first: {first.path})", same_run=True)
    for report in reports:
        for record in report.case_records:
            if record.case in owner:
                raise ConfigError(f"case {record.case} is in both {owner[record.case]} and {report.path}; "
                                  "join each shard once")
            owner[record.case] = report.path


def check_protocol(reports: list[ReportDir], protocol: str | None) -> None:
    """With ``--protocol``, every report must have been run under it (meta ``protocol``, absent = harness)."""
    for report in reports if protocol else ():
        ran = report.meta.get("protocol", HARNESS)
        if ran != protocol:
            raise ConfigError(f"{report.path} was run under protocol {ran}, not {protocol}; rerun it with "
                              f"--sseu-protocol {protocol}, or leave --protocol out")


def run(args: argparse.Namespace) -> int:
    reports = [load_report_dir(path) for path in args.reports]
    check_protocol(reports, args.protocol)
    check_joinable(reports)
    for report in reports:  # each case's value and counts are taken from its rows, not from its summary
        report.check_rows()
    first = reports[0]
    case_records = [replace(r, ci_low=None, ci_high=None) for rep in reports for r in rep.case_records]
    models = {name: spec for rep in reports for name, spec in rep.meta.get("models", {}).items()}
    meta = {**first.meta, "models": models, "shard": None, "merged_from": [str(r.path) for r in reports]}
    boot = first.meta.get("bootstrap") or {}
    baseline = load_report_dir(args.baseline) if args.baseline else None
    bounds = load_thresholds(args.thresholds) if args.thresholds else []
    available_snrs = sorted({snr for snrs in meta["task_snrs"].values() for snr in snrs}, key=sort_key)
    for warning in check_gates_config(bounds, baseline, available_snrs, meta, sharded=False,
                                      case_ids={r.case for r in case_records}):
        print(f"sseu merge: warning: {warning}", file=sys.stderr)
    if baseline is not None:
        baseline.check_rows()
    clip_ids = {row.item for rep in reports for _, rows in rep.case_rows() for row in rows}
    summary = summarize(
        args.out, case_records, heapq.merge(*(rep.case_rows() for rep in reports), key=lambda pair: pair[0]),
        clip_ids, meta, bounds=bounds, selected={(r.model, r.task, r.mode) for r in case_records},
        baseline=baseline, margin=args.margin, case_bounds=True, hearing=not args.no_hearing_check,
        resamples=args.bootstrap or boot.get("resamples", 1000),
        seed=args.bootstrap_seed if args.bootstrap_seed is not None else boot.get("seed", 0),
    )
    print(tables.terminal_block(summary.records, ci=args.ci, gates=summary.gates, departures=departures(meta)), end="")
    if summary.promote_error:
        raise ConfigError(summary.promote_error)
    print(f"report: {args.out.resolve()}")
    return 0 if all(g.passed for g in summary.gates) else 1
