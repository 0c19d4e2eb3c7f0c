"""Write every mixture of a set to disk: ``OUT/<snr_label>/<item id>.wav`` (44.1 kHz, mono, 16-bit PCM).

For users who want files to share or listen to; the benchmark itself mixes on
the fly and does not need them. Each file is written to a temporary name in
its folder and renamed into place, so a file that exists is complete. A rerun
after an interruption skips the files that exist and writes the rest; stale
temporary files are removed. ``OUT/.manifest-sha256`` records which manifest
the files were made from, and the mixer version (``MIXER_VERSION``) that made
them: a different manifest or mixing rule is refused rather than mixed into
the same folder. When every file exists, ``OUT/metadata.csv`` lists them
(one row per mixture: clip_id, file, snr_db, snr_label, transcript, speaker,
scene, events, source), ready for ``sseu import``.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from tqdm import tqdm

from sseu_harness.dataset.manifest import Manifest
from sseu_harness.dataset.mixer import MIX_RATE, MIXER_VERSION, Mixer
from sseu_harness.errors import ManifestError
from sseu_harness.files import atomic
from sseu_harness.spec.snr import PAPER_SNRS_DB, parse_snr, snr_label

STAMP = ".manifest-sha256"
METADATA = "metadata.csv"
METADATA_COLUMNS = ["clip_id", "file", "snr_db", "snr_label", "transcript", "speaker", "scene", "events", "source"]


@dataclass
class MaterializeResult:
    written: int
    existing: int
    folder: Path
    metadata: Path


def file_stem(item_id: str) -> str:
    return re.sub(r"[^\w.\-]", "_", item_id)


def materialize(manifest: Manifest, out: Path, snrs: list[float] | None = None, progress: bool | None = None,
                on_written: Callable[[Path], None] | None = None) -> MaterializeResult:
    """Mix and write every (item, SNR) not yet on disk; see the module doc."""
    snrs = list(PAPER_SNRS_DB if snrs is None else snrs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / STAMP
    if stamp.exists():
        _check_stamp(stamp, out, manifest)
    stamp.write_text(f"{manifest.sha256}\n{MIXER_VERSION}\n")
    labels = [snr_label(db) for db in snrs]
    for label in labels:
        (out / label).mkdir(exist_ok=True)
        for stale in (out / label).glob(".*.partial-*"):
            stale.unlink()
    items = [item for item in manifest.items if item.has_sources]
    mixer = Mixer(manifest)
    written = existing = 0
    jobs = [(item, db, label) for item in items for db, label in zip(snrs, labels)]
    bar = tqdm(jobs, desc="mixtures", unit="file", file=sys.stderr, disable=None if progress is None else not progress)
    for item, db, label in bar:
        target = out / label / f"{file_stem(item.id)}.wav"
        if target.exists():
            existing += 1
            continue
        wave = mixer.mix(item, db).waveform
        with atomic.replacing(target) as tmp:
            sf.write(str(tmp), np.clip(wave, -1.0, 1.0), MIX_RATE, subtype="PCM_16", format="WAV")
        written += 1
        if on_written is not None:
            on_written(target)
    metadata = out / METADATA
    _write_metadata(metadata, items, snrs, labels)
    return MaterializeResult(written, existing, out, metadata)


def _check_stamp(stamp: Path, out: Path, manifest: Manifest) -> None:
    """Refuse a folder of another manifest or of another mixing rule: its files must not be kept."""
    lines = stamp.read_text().split()
    sha = lines[0] if lines else ""
    mixer = lines[1] if len(lines) > 1 else "sseu-mix-1"  # stamps before sseu-mix-2 held the manifest only
    if sha != manifest.sha256:
        raise ManifestError(
            f"{out} holds mixtures of another manifest (sha256 {sha[:16]}..., this one "
            f"{manifest.sha256[:16]}...); delete the folder or materialize into another one"
        )
    if mixer != MIXER_VERSION:
        raise ManifestError(
            f"{out} holds mixtures made under mixing rule {mixer}; this harness mixes with {MIXER_VERSION}, so "
            "they would not match; delete the folder or materialize into another one"
        )


def _write_metadata(path: Path, items, snrs, labels) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    for item in items:
        for db, label in zip(snrs, labels):
            writer.writerow([
                item.id, f"{label}/{file_stem(item.id)}.wav",
                "inf" if db == math.inf else "-inf" if db == -math.inf else f"{db:g}", label,
                item.speech.transcript, item.speech.speaker, item.background.scene,
                ";".join(item.background.event_labels), item.background.source,
            ])
    atomic.write_text(path, buffer.getvalue())


def parse_snr_values(text: str | None) -> list[float] | None:
    """A comma list of SNR labels or dB values (``10,-5,snr_minf``); None = the paper's seven."""
    if not text:
        return None
    values = [parse_snr(part) for part in text.split(",") if part.strip()]
    return sorted(set(values), key=lambda v: -v)
