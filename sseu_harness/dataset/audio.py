"""Reading source audio into mono float32, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sseu_harness.errors import AudioError


def read_mono(path: Path, start: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode a file (or a window of it, in seconds) to mono float32; refuse empty, NaN or unreadable audio."""
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}; check the manifest's data root and the path")
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            first = int(round(start * rate))
            if first >= handle.frames and first > 0:
                raise AudioError(f"{path}: window starts at {start} s, after the end ({handle.frames / rate:.2f} s)")
            frames = -1 if duration is None else int(round(duration * rate))
            handle.seek(first)
            data = handle.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"cannot decode {path}: {exc}; re-export it as WAV or FLAC") from exc
    if duration is not None and data.shape[0] < int(round(duration * rate)) - 1:
        raise AudioError(f"{path}: the {duration} s window at {start} s runs past the end of the file")
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
