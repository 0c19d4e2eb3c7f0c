"""Session-start check of the data: every file the selected cases need, and what the manifest and headers show.

Without it a missing or damaged file, or an item that cannot be mixed, is
found only when a model is already loaded, and then every case that needs it
fails with the same message. Here the session is refused once, with every
problem listed, before any model is constructed. Only headers are opened
(``soundfile.info``, and a WAV's chunk headers), so the check costs well under
a millisecond per file.

Two passes, each one error:

* files: missing, unreadable, empty, or a WAV whose ``data`` chunk promises
  more bytes than the file holds (libsndfile then quietly reads what is there);
* items (named by manifest line): speech that starts past its background's end
  or outlasts it, a window past the end of its file, an event that starts after
  the clip ends (it would count as a true label of a clip that does not hold
  it), a reference transcript that the WER normaliser empties (no word with a
  letter or digit left) where an ASR case reads it, and a clip longer than
  ``max_clip_seconds`` (mixing holds a few copies of it in memory).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import soundfile as sf

from sseu_harness.dataset.manifest import Item, Manifest
from sseu_harness.dataset.mixer import MIX_RATE
from sseu_harness.errors import AudioError, ManifestError

MAX_LISTED = 20  # a wrong data root makes every file bad: list the first ones and count the rest
DEFAULT_MAX_CLIP_SECONDS = 600.0  # a 10-minute clip mixes in about 0.5 GB; the paper's clips last 10 s
FIT_SLACK = 2  # samples: the resampler's length may differ by one from this estimate; the mixer checks exactly


@dataclass(frozen=True)
class Header:
    frames: int
    rate: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def needed_files(manifest: Manifest, slices: Iterable[tuple[str, Iterable[Item]]]) -> list[Path]:
    """The files read for these (SNR label, items) slices: both sources of a mixable item, else its pre-mix."""
    seen: dict[Path, None] = {}
    for snr, items in slices:
        for item in items:
            for relative in _relative_files(item, snr):
                seen.setdefault(manifest.resolve(relative), None)
    return list(seen)


def _relative_files(item: Item, snr: str) -> list[str]:
    if item.has_sources:
        return [*item.speech.parts, item.background.path]
    return [item.premixed[snr]] if item.premixed and snr in item.premixed else []


def read_header(path: Path) -> Header | str:
    """The file's frame count and rate, or why it cannot serve as audio."""
    if not path.is_file():
        return "missing"
    try:
        info = sf.info(str(path))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types for one cause: unreadable
        return f"unreadable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    if info.frames <= 0:
        return "holds no samples"
    short = _wav_shortfall(path)
    if short:
        return f"truncated: its WAV header promises {short} more bytes of samples than the file holds"
    return Header(info.frames, info.samplerate)


def _wav_shortfall(path: Path) -> int:
    """Bytes a RIFF/WAVE file's ``data`` chunk declares beyond the end of the file (0 for other formats,
    and for the 0 / 0xFFFFFFFF sizes of files written as streams)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(12)[:4] != b"RIFF":
            return 0
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"data":
                if length in (0, 0xFFFFFFFF):
                    return 0
                return max(0, offset + 8 + length - size)
            offset += 8 + length + (length & 1)
    return 0


def check_audio_files(manifest: Manifest, slices: Iterable[tuple[str, Iterable[Item]]]) -> dict[Path, Header]:
    """Raise one `AudioError` listing every bad file; return the headers of the files the slices need."""
    files = needed_files(manifest, slices)
    headers = {path: read_header(path) for path in files}
    bad = [(path, reason) for path, reason in headers.items() if isinstance(reason, str)]
    if bad:
        listed = "\n".join(f"  {path}: {reason}" for path, reason in bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise AudioError(
            f"{len(bad)} of the {len(files)} audio files the selected cases need cannot be read, so no model "
            f"was loaded (data set {manifest.path}):\n{listed}{more}\n"
            "restore or re-export these files, or fix the manifest's paths (and its header's roots)"
        )
    return headers  # type: ignore[return-value]  # every value is a Header here


def check_items(manifest: Manifest, slices: Iterable[tuple[str, Iterable[Item]]], headers: dict[Path, Header] | None,
                asr_snrs: set[str], normalize: Callable[[str], str] | None,
                max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS) -> None:
    """Raise one `ManifestError` listing every item that would fail its cases (see the module doc).

    `headers`: of the files the slices need (None: no audio is read, as under rescore: references only);
    `asr_snrs`: the SNRs with a selected ASR case (their items' transcripts are references);
    `normalize`: the session's WER normaliser."""
    problems: dict[tuple[str, str], None] = {}
    seen: set[tuple[str, str]] = set()  # (item id, check): an item's sources and reference are checked once
    for snr, items in slices:
        for item in items:
            where = f"{manifest.where(item)}: item {item.id}"
            reasons = []
            if headers is not None and not item.has_sources:
                reasons += _premixed_problems(manifest, item, snr, headers, max_clip_seconds)
            elif headers is not None and (item.id, "sources") not in seen:
                seen.add((item.id, "sources"))
                reasons += _source_problems(manifest, item, headers, max_clip_seconds)
            if snr in asr_snrs and normalize is not None and (item.id, "reference") not in seen:
                seen.add((item.id, "reference"))
                if not _has_word(normalize(item.speech.transcript)):
                    reasons.append(f"its transcript {item.speech.transcript!r} has no word once normalised for WER; "
                                   "give the words spoken, or leave ASR out (--sseu-tasks=ASC,AT)")
            for reason in reasons:
                problems.setdefault((where, reason), None)
    if problems:
        lines = [f"  {where}: {reason}" for where, reason in problems]
        more = f"\n  ... and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
        raise ManifestError(
            f"{len(lines)} problem(s) in the items the selected cases need, so no model was loaded "
            f"(data set {manifest.path}):\n" + "\n".join(lines[:MAX_LISTED]) + more +
            "\nfix these rows of the manifest (or their audio files)"
        )


def _has_word(normalized: str) -> bool:
    return any(any(ch.isalnum() for ch in word) for word in normalized.split())


def _source_problems(manifest: Manifest, item: Item, headers: dict[Path, Header], max_seconds: float) -> list[str]:
    """A mixable item: its speech inside its background, its window inside its file, its events inside its clip."""
    reasons = []
    background = headers[manifest.resolve(item.background.path)]
    bg = item.background
    first = int(round(bg.start * background.rate))
    if first >= background.frames and first > 0:
        return [f"background.start {bg.start} s is past the end of {bg.path} ({background.seconds:.2f} s)"]
    frames = background.frames - first if bg.duration is None else int(round(bg.duration * background.rate))
    if first + frames > background.frames + 1:
        reasons.append(f"the background window {bg.start} s + {bg.duration} s runs past the end of {bg.path} "
                       f"({background.seconds:.2f} s)")
        frames = background.frames - first
    clip = frames / background.rate
    if clip > max_seconds:
        reasons.append(f"the background clip lasts {clip:.0f} s, above the limit of {max_seconds:g} s; cut a window "
                       "(background.duration) or raise --sseu-max-clip-seconds")
    parts = [headers[manifest.resolve(part)] for part in item.speech.parts]
    speech = sum(_mix_length(p.frames, p.rate) for p in parts) + \
        (len(parts) - 1) * int(round(item.speech.gap * MIX_RATE))
    start, length = int(round(item.speech.onset * MIX_RATE)), _mix_length(frames, background.rate)
    if start >= length:
        reasons.append(f"speech.onset {item.speech.onset} s is past the end of its background ({clip:.2f} s)")
    elif start + speech > length + FIT_SLACK:
        reasons.append(f"the speech ({speech / MIX_RATE:.2f} s from {item.speech.onset} s) outlasts its background "
                       f"({clip:.2f} s); lower speech.onset or use a longer background")
    reasons += _events_outside(item, clip)
    return reasons


def _premixed_problems(manifest: Manifest, item: Item, snr: str, headers: dict[Path, Header],
                       max_seconds: float) -> list[str]:
    if not item.premixed or snr not in item.premixed:
        return []
    mixture = headers[manifest.resolve(item.premixed[snr])]
    reasons = _events_outside(item, mixture.seconds)
    if mixture.seconds > max_seconds:
        reasons.append(f"the mixture {item.premixed[snr]} lasts {mixture.seconds:.0f} s, above the limit of "
                       f"{max_seconds:g} s; cut it or raise --sseu-max-clip-seconds")
    return reasons


def _events_outside(item: Item, clip_seconds: float) -> list[str]:
    return [f"event {event.label!r} starts at {event.onset} s, after the clip ends ({clip_seconds:.2f} s); "
            "drop it or fix its times" for event in item.background.events if event.onset >= clip_seconds]


def _mix_length(frames: int, rate: int) -> int:
    """Samples at the mixer's rate of `frames` samples at `rate` (soxr rounds to the nearest)."""
    return frames if rate == MIX_RATE else int(round(frames * MIX_RATE / rate))
