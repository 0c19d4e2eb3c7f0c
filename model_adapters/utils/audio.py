"""Audio the adapters hand to a model: cut to what it hears, cropped deterministically, or encoded as WAV."""

from __future__ import annotations

import base64
import io
import zlib

import numpy as np

CROPS = ("center", "start", "seeded")


def cut(audio: np.ndarray, sample_rate: int, max_seconds: float | None) -> np.ndarray:
    """The first `max_seconds` of a clip (the rest is what the model would drop anyway)."""
    if max_seconds is None:
        return audio
    limit = int(round(max_seconds * sample_rate))
    return audio[:limit] if audio.shape[0] > limit else audio


def crop(audio: np.ndarray, length: int, how: str = "center", seed: int = 0) -> np.ndarray:
    """A window of `length` samples; shorter clips are returned whole.

    ``center`` takes the middle, ``start`` the beginning, ``seeded`` a window
    drawn from the run seed and the clip's own samples (never its position in a
    batch, so the crop does not depend on batching or workers).
    """
    if audio.shape[0] <= length:
        return audio
    overflow = audio.shape[0] - length
    if how == "center":
        start = overflow // 2
    elif how == "start":
        start = 0
    elif how == "seeded":
        rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(np.ascontiguousarray(audio).tobytes())])
        start = int(rng.integers(0, overflow + 1))
    else:
        raise ValueError(f"unknown crop {how!r}; known: {', '.join(CROPS)}")
    return audio[start : start + length]


def repeat_to(audio: np.ndarray, length: int) -> np.ndarray:
    """Repeat a short clip until it fills `length` samples (MS-CLAP's padding)."""
    if audio.shape[0] >= length:
        return audio[:length]
    reps = int(np.ceil(length / max(audio.shape[0], 1)))
    return np.tile(audio, reps)[:length]


def wav_bytes(audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> bytes:
    """A mono WAV file in memory (16-bit PCM by default: what every audio chat endpoint accepts)."""
    import soundfile as sf

    buffer = io.BytesIO()
    clipped = np.clip(audio, -1.0, 1.0) if subtype.startswith("PCM") else audio
    sf.write(buffer, clipped, sample_rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def wav_base64(audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> str:
    return base64.b64encode(wav_bytes(audio, sample_rate, subtype)).decode("ascii")


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an in-memory audio file into mono float32 and its rate.

    16-bit PCM WAV (what the harness and most clients send) is read with the
    standard library's `wave` and numpy, to the same samples libsndfile gives
    (int16 scaled by 2^-15, exact in float32): soundfile's in-memory reading
    calls back into Python for every seek and read, and took three quarters
    of a served request's parsing. Every other format goes through soundfile.
    """
    pcm16 = _read_pcm16_wav(data)
    if pcm16 is not None:
        audio, rate = pcm16
    else:
        import soundfile as sf

        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    mono = audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1)  # the mean of one channel is that channel
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def _read_pcm16_wav(data: bytes) -> tuple[np.ndarray, int] | None:
    """(frames x channels float32, rate) of a 16-bit PCM WAV file; None for any other file (or a broken one)."""
    import wave

    try:
        with wave.open(io.BytesIO(data)) as reader:
            if reader.getsampwidth() != 2 or reader.getcomptype() != "NONE":
                return None
            channels, rate = reader.getnchannels(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except Exception:  # noqa: BLE001 - a file the stdlib cannot read is soundfile's to read or to reject
        return None
    if len(frames) % (2 * channels):
        return None  # a truncated last frame: let libsndfile decide
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) * np.float32(1.0 / 32768.0)
    return samples.reshape(-1, channels), rate


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return audio
    import soxr  # only needed when a client sends another rate than the model's

    return soxr.resample(audio, rate_in, rate_out, quality="HQ").astype(np.float32)


class TempWavs:
    """Clips written as WAV files for models whose API takes a file path (Kimi-Audio, Step-Audio 2, LTU-AS)."""

    def __init__(self, prefix: str = "sseu-") -> None:
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix=prefix)
        self._count = 0

    def write(self, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> str:
        import os

        import soundfile as sf

        self._count += 1
        path = os.path.join(self._dir.name, f"clip-{self._count}.wav")
        sf.write(path, np.asarray(audio, dtype=np.float32), sample_rate, subtype=subtype)
        return path

    def remove(self, path: str) -> None:
        import os

        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self._dir.cleanup()
