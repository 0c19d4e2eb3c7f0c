"""Readers for the source corpora of SSEU-Bench, and what they share.

Each reader (`vctk`, `desed`, `maestro`) knows one corpus's real on-disk
layout and refuses a wrong one with a message that names the folder and the
fix. Problems with single files (unreadable, empty, silent, an annotation that
runs past its audio, ...) do not stop a build: the file is skipped and
recorded in a `Findings` log that the build report shows, with the file and
the fix. ``strict`` turns those skips into errors. Files with an unexpected
sample rate or channel count are kept (the mixer converts every source to mono
44.1 kHz) and reported.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from sseu_harness.errors import AudioError, ConfigError

DEFAULTS_PATH = Path(__file__).resolve().parents[2] / "data" / "build_defaults.toml"

# Skips that --strict turns into errors: problems with an audio file itself.
STRICT_KINDS = frozenset({"unreadable", "empty", "silent", "low_rate", "annotation_past_audio"})


@lru_cache(maxsize=4)
def load_defaults(path: Path = DEFAULTS_PATH) -> dict:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read build defaults {path}: {exc}") from exc


@dataclass
class Finding:
    count: int = 0
    examples: list[str] = field(default_factory=list)


class Findings:
    """What a build skipped, converted or dropped: counts plus the first messages of each kind."""

    def __init__(self, strict: bool = False, examples: int = 5) -> None:
        self.strict = strict
        self.max_examples = examples
        self.skipped: dict[str, Finding] = {}
        self.notes: dict[str, Finding] = {}

    def skip(self, kind: str, message: str, count: int = 1) -> None:
        """A file, clip or window left out of the build, with the reason and fix."""
        if self.strict and kind in STRICT_KINDS:
            raise AudioError(f"{message} (--strict refuses it; drop --strict to skip such files)")
        self._add(self.skipped, kind, message, count)

    def note(self, kind: str, message: str, count: int = 1) -> None:
        """Something converted or dropped that the user should know about, not a skip."""
        self._add(self.notes, kind, message, count)

    def _add(self, table: dict[str, Finding], kind: str, message: str, count: int) -> None:
        entry = table.setdefault(kind, Finding())
        entry.count += count
        if message and len(entry.examples) < self.max_examples and message not in entry.examples:
            entry.examples.append(message)

    def as_dict(self) -> dict:
        def dump(table: dict[str, Finding]) -> dict:
            return {k: {"count": v.count, "examples": list(v.examples)} for k, v in sorted(table.items())}

        return {"skipped": dump(self.skipped), "notes": dump(self.notes)}


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def probe(
    path: Path,
    findings: Findings,
    corpus: str,
    rates: list[int],
    channels: list[int],
    min_rate: int,
    silence_peak: float | None = None,
    keep_wave: bool = False,
) -> tuple[AudioInfo | None, np.ndarray | None]:
    """Check one source file; returns (info, mono wave if asked) or (None, None) when it is skipped.

    Unexpected rates and channel counts are reported (the mixer converts them);
    unreadable, empty, too-low-rate and (with ``silence_peak``) silent files
    are skipped with a message naming the file and the fix.
    """
    try:
        meta = sf.info(str(path))
    except Exception as exc:  # libsndfile raises several types for broken files
        findings.skip("unreadable", f"{path}: cannot decode it ({_first_line(exc)}); re-download or re-export the file")
        return None, None
    if meta.frames <= 0:
        findings.skip("empty", f"{path}: holds no samples; re-download or replace the file")
        return None, None
    if meta.samplerate < min_rate:
        findings.skip(
            "low_rate",
            f"{path}: {meta.samplerate} Hz is below {min_rate} Hz, too little band for a 44.1 kHz benchmark; "
            f"use the {corpus} original ({', '.join(map(str, rates))} Hz)",
        )
        return None, None
    info = AudioInfo(path, int(meta.samplerate), int(meta.channels), int(meta.frames))
    if info.rate not in rates:
        findings.note(
            "rate_converted",
            f"{path}: {info.rate} Hz where {corpus} has {', '.join(map(str, rates))} Hz; resampled to 44.1 kHz when mixing",
        )
    if info.channels not in channels:
        findings.note(
            "channels_converted",
            f"{path}: {info.channels} channels where {corpus} has {' or '.join(map(str, channels))}; "
            "averaged to mono when mixing",
        )
    wave = None
    if silence_peak is not None or keep_wave:
        wave = decode(path, findings, silence_peak)
        if wave is None:
            return None, None
    return info, (wave if keep_wave else None)


def decode(path: Path, findings: Findings, silence_peak: float | None) -> np.ndarray | None:
    """The file as mono float32, or None (recorded in findings) when it cannot be decoded, is empty or silent."""
    try:
        data = sf.read(str(path), dtype="float32", always_2d=True)[0]
    except Exception as exc:
        findings.skip("unreadable", f"{path}: cannot decode it ({_first_line(exc)}); re-download or re-export the file")
        return None
    if data.shape[0] == 0:
        findings.skip("empty", f"{path}: holds no samples; re-download or replace the file")
        return None
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(wave).all():
        findings.skip("unreadable", f"{path}: contains NaN or infinite samples; re-export the file")
        return None
    if silence_peak is not None and float(np.max(np.abs(wave))) < silence_peak:
        findings.skip("silent", f"{path}: is silent (peak below {silence_peak:g}); re-download or replace the file")
        return None
    return wave


def require_dir(path: Path, option: str, expect: str) -> Path:
    """The corpus folder, or a ConfigError that names it and what it should hold."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{option} {path}: no such folder; pass the folder that holds {expect}")
    if not path.is_dir():
        raise ConfigError(f"{option} {path}: not a folder; pass the folder that holds {expect}")
    return path.resolve()


def find_below(root: Path, name: str, depth: int = 2) -> Path | None:
    """A folder called `name` a level or two below root (for 'did you mean' hints)."""
    frontier = [root]
    for _ in range(depth):
        nxt = []
        for folder in frontier:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
            for child in children:
                if child.name == name:
                    return child.parent
                nxt.append(child)
        frontier = nxt
    return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
