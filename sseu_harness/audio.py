"""Reading source audio into mono float32, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """Decode a file to mono float32 (channels averaged); refuse empty, NaN or unreadable audio."""
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}; check the manifest's data root and the path")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"cannot decode {path}: {exc}; re-export it as WAV or FLAC") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path} holds no samples; replace the file")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise AudioError(f"{path} contains NaN or infinite samples; re-export the file")
    return np.ascontiguousarray(mono), int(rate)


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling with soxr (HQ); a no-op when the rates agree."""
    if rate_in == rate_out:
        return wave
    return soxr.resample(wave, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)
