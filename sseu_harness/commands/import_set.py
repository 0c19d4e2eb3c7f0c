"""``sseu import``: a pre-mixed set (CSV or JSON Lines + column mapping) as a manifest (see `sseu_harness/dataset/importer.py`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sseu_harness.dataset.importer import import_set, parse_map
from sseu_harness.errors import ConfigError

NAME = "import"
HELP = "import a pre-mixed set (CSV or JSONL listing mixture files) as a manifest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="the set's metadata CSV (.tsv: tab-separated)")
    source.add_argument("--jsonl", type=Path, help="the set's metadata as JSON Lines")
    parser.add_argument("--root", type=Path, required=True, help="the set's data root: audio paths are relative to it")
    parser.add_argument("--out", type=Path, required=True, help="folder for manifest.jsonl (may be --root itself)")
    parser.add_argument("--map", required=True, dest="mapping",
                        help="FIELD=COLUMN list: audio, snr, scene (required), transcript, events, speaker, id")
    parser.add_argument("--clip-id", default=None, help="column holding the clip id (rows of a clip become one item)")
    parser.add_argument("--delimiter", default=None, help="CSV delimiter (default ',' and tab for .tsv)")
    parser.add_argument("--name", default=None, help="the set's name in the manifest (default: the file's stem)")


def run(args: argparse.Namespace) -> int:
    if args.delimiter is not None and len(args.delimiter.encode().decode("unicode_escape")) != 1:
        raise ConfigError(f"--delimiter {args.delimiter!r} must be one character (use '\\t' for tab)")
    delimiter = args.delimiter.encode().decode("unicode_escape") if args.delimiter else None
    result = import_set(args.csv or args.jsonl, args.root, args.out, parse_map(args.mapping),
                        fmt="csv" if args.csv else "jsonl", clip_id=args.clip_id, name=args.name, delimiter=delimiter)
    print(f"wrote {result.manifest}: {result.items} items from {result.rows} rows at {', '.join(result.snrs)}")
    if result.dropped_labels:
        print("dropped speech-like labels: " + ", ".join(f"{k} x{v}" for k, v in sorted(result.dropped_labels.items())))
    inside = args.out.resolve() == args.root.resolve()
    print(f"run it: pytest --sseu-data={args.out}{'' if inside else ' --sseu-allow-roots'} --sseu-model=oracle")
    return 0
