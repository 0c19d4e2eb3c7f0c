"""Session-start check of the audio: every file the selected cases need has a readable header.

Without it a missing or damaged file is found only when a model is already
loaded, and then every case that needs it fails with the same message. Here
the session is refused once, with every bad file listed, before any model is
constructed. Only headers are opened (``soundfile.info``), so the check costs
well under a millisecond per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import soundfile as sf

from sseu_harness.dataset.manifest import Item, Manifest
from sseu_harness.errors import AudioError

MAX_LISTED = 20  # a wrong data root makes every file bad: list the first ones and count the rest


def needed_files(manifest: Manifest, slices: Iterable[tuple[str, Iterable[Item]]]) -> list[Path]:
    """The files read for these (SNR label, items) slices: both sources of a mixable item, else its pre-mix."""
    seen: dict[Path, None] = {}
    for snr, items in slices:
        for item in items:
            if item.has_sources:
                relative = [*item.speech.parts, item.background.path]
            else:
                relative = [item.premixed[snr]] if item.premixed and snr in item.premixed else []
            for path in relative:
                seen.setdefault(manifest.resolve(path), None)
    return list(seen)


def problem(path: Path) -> str | None:
    """Why `path` cannot serve as audio, or None."""
    if not path.is_file():
        return "missing"
    try:
        info = sf.info(str(path))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types for one cause: unreadable
        return f"unreadable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    if info.frames <= 0:
        return "holds no samples"
    return None


def check_audio_files(manifest: Manifest, slices: Iterable[tuple[str, Iterable[Item]]]) -> int:
    """Raise one `AudioError` listing every bad file; return how many files were checked."""
    files = needed_files(manifest, slices)
    bad = [(path, reason) for path in files if (reason := problem(path)) is not None]
    if bad:
        listed = "\n".join(f"  {path}: {reason}" for path, reason in bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise AudioError(
            f"{len(bad)} of the {len(files)} audio files the selected cases need cannot be read, so no model "
            f"was loaded (data set {manifest.path}):\n{listed}{more}\n"
            "restore or re-export these files, or fix the manifest's paths (and its header's roots)"
        )
    return len(files)
