"""``sseu build``: SSEU-Bench from local copies of VCTK 0.92, DESED and MAESTRO-Real (see `sseu_harness/dataset/build.py`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sseu_harness.dataset.build import BuildOptions, build, report_terminal
from sseu_harness.dataset.corpora import load_defaults
from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.dataset.materialize import materialize, parse_snr_values

HELP = "build SSEU-Bench (manifest + report) from VCTK, DESED and MAESTRO-Real folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = load_defaults()
    b, m = d["build"], d["maestro"]
    parser.add_argument("--vctk", type=Path, required=True, help="VCTK 0.92 folder (wav48_silence_trimmed/, txt/)")
    parser.add_argument("--desed", type=Path, required=True, help="DESED folder (strong-label TSVs and the real clips)")
    parser.add_argument("--maestro", type=Path, required=True,
                        help="MAESTRO-Real development folder (development_audio/, development_annotation/)")
    parser.add_argument("--out", type=Path, required=True, help="folder for manifest.jsonl and build_report.{json,md}")
    parser.add_argument("--seed", type=int, default=None, help=f"seed of every draw (default {b['seed']})")
    parser.add_argument("--desed-clips", type=int, default=None, help=f"DESED backgrounds, at most (default {b['desed_clips']})")
    parser.add_argument("--maestro-clips", type=int, default=None,
                        help=f"MAESTRO-Real backgrounds, at most (default {b['maestro_clips']})")
    parser.add_argument("--speakers", type=int, default=None, help=f"VCTK speakers (default {b['speakers']})")
    parser.add_argument("--speech-target", type=float, default=None,
                        help=f"seconds of joined speech per mixture (default {b['speech_target']})")
    parser.add_argument("--gap", type=float, default=None, help=f"seconds between joined utterances (default {b['gap']})")
    parser.add_argument("--margin", type=float, default=None,
                        help=f"seconds kept free at both ends of a background (default {b['margin']})")
    parser.add_argument("--mic", choices=("mic1", "mic2"), default=None, help="VCTK microphone (default mic1)")
    parser.add_argument("--maestro-hop", dest="hop", type=float, default=None,
                        help=f"seconds between MAESTRO window starts (default {m['hop']}: non-overlapping)")
    parser.add_argument("--threshold", type=float, default=None,
                        help=f"MAESTRO soft-label confidence threshold (default {m['threshold']})")
    parser.add_argument("--min-event-span", type=float, default=None,
                        help=f"seconds an event must be active in a window (default {m['min_event_span']})")
    parser.add_argument("--speech-backgrounds", choices=("keep", "exclude"), default=None,
                        help="backgrounds whose annotation carries speech (DESED Speech, MAESTRO-Real people talking, "
                             f"children voices, announcement): keep them, marked, or exclude them (default {b['speech_backgrounds']})")
    parser.add_argument("--desed-tsv", type=Path, action="append", default=[],
                        help="a DESED strong-label TSV to use (repeatable; default: every one under --desed)")
    parser.add_argument("--name", default="sseu-bench", help="the set's name in the manifest (default sseu-bench)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse unreadable, empty, silent or mislabelled files instead of skipping them")
    parser.add_argument("--materialize", action="store_true",
                        help="also write every mixture as a 44.1 kHz WAV per SNR under OUT/mixtures (resumable)")
    parser.add_argument("--snrs", default=None, help="with --materialize: comma list of SNRs (default: the seven)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    progress = False if args.no_progress else None
    snrs = parse_snr_values(args.snrs)
    result = build(BuildOptions(
        vctk=args.vctk, desed=args.desed, maestro=args.maestro, out=args.out, seed=args.seed,
        desed_clips=args.desed_clips, maestro_clips=args.maestro_clips, speakers=args.speakers,
        speech_target=args.speech_target, gap=args.gap, margin=args.margin, mic=args.mic, hop=args.hop,
        threshold=args.threshold, min_event_span=args.min_event_span, desed_tsvs=args.desed_tsv,
        speech_backgrounds=args.speech_backgrounds,
        strict=args.strict, name=args.name, progress=progress,
    ))
    print(report_terminal(result.report))
    print(f"wrote {result.manifest} ({len(result.items)} items) and {args.out / 'build_report.md'}")
    if args.materialize:
        manifest = load_manifest(result.manifest, allow_roots=True)  # it reads the corpora in place, by design
        done = materialize(manifest, args.out / "mixtures", snrs, progress=progress)
        print(f"mixtures: {done.written} written, {done.existing} already there, in {done.folder}; "
              f"list in {done.metadata}")
    print(f"run it: pytest --sseu-data={args.out} --sseu-allow-roots --sseu-model=oracle "
          "(--sseu-allow-roots: the set reads the corpora in place, outside its folder)")
    return 0
