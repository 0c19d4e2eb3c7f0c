"""Print the tables of a report directory (its summary.json) on the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from sseu_harness.report import tables
from sseu_harness.report.reader import load_report_dir
from sseu_harness.results.paper import departures

HELP = "print the paper's tables from a report directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", type=Path, help="a report directory (holding summary.json) or one of its run folders")
    parser.add_argument("--ci", action="store_true", help="also show each cell's 95%% bootstrap interval")


def run(args: argparse.Namespace) -> int:
    report = load_report_dir(args.report_dir)
    print(tables.terminal_block(report.records, ci=args.ci, departures=departures(report.meta)), end="")
    return 0
