"""Print the tables of a report directory (its summary.json) on the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import tables
from ..reportdir import load_report_dir

HELP = "print the paper's tables from a report directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", type=Path, help="a report directory (holding summary.json)")


def run(args: argparse.Namespace) -> int:
    records = load_report_dir(args.report_dir).summary["records"]
    for title, table in tables.table1(records, fmt="simple"):
        print(f"{title}\n{table}\n")
    second = tables.table2(records, fmt="simple")
    if second:
        print(f"{second[0]}\n{second[1]}")
    return 0
