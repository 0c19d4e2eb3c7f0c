"""Print the tables of a report directory (its summary.json) on the terminal."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import tables
from ..errors import ConfigError
from ..report import SUMMARY_SCHEMA

HELP = "print the paper's tables from a report directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", type=Path, help="a report directory (holding summary.json)")


def load_summary(report_dir: Path) -> dict:
    path = report_dir / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no summary at {path}: pass the --sseu-report-dir of a finished run") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc.msg}); rerun the benchmark to rewrite it") from None
    if data.get("schema") != SUMMARY_SCHEMA:
        raise ConfigError(f"{path}: schema {data.get('schema')!r} is not {SUMMARY_SCHEMA!r}")
    return data


def run(args: argparse.Namespace) -> int:
    records = load_summary(args.report_dir)["records"]
    for title, table in tables.table1(records, fmt="simple"):
        print(f"{title}\n{table}\n")
    second = tables.table2(records, fmt="simple")
    if second:
        print(f"{second[0]}\n{second[1]}")
    return 0
