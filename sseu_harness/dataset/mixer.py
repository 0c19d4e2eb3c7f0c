"""Mixing speech over background at a target SNR, on the fly and deterministically.

Definitions (part of the benchmark's contract, docs/benchmark.md, "Mixing"):

* Both sources are converted to mono at 44.1 kHz (soxr HQ) before mixing.
* The speech is the item's utterance, or its utterances joined with
  ``speech.gap`` seconds of silence; the background is the file, or the
  window ``background.start`` + ``duration`` of it.
* The mixture is as long as the background. The speech starts at the item's
  ``speech.onset`` seconds (rounded to the nearest sample) and must end inside
  the background.
* SNR = 10 log10(E_s / E_b), with E_s the mean power of the speech and E_b the
  mean power of the background, both over the speech-active span (the samples
  the speech occupies).
* Level rule (one for all seven conditions): the louder source sits at
  ``LEVEL_DBFS`` RMS over the speech span and the other ``|SNR|`` dB below it
  (the speech at SNR >= 0 and at +inf, the background at SNR < 0 and at -inf;
  at 0 dB both). So the background has one gain at every SNR <= 0 and at -inf,
  and the speech one gain at every SNR >= 0 and at +inf: a model hears the
  same background at -10 dB as alone, and the same speech at +10 dB as alone.
* Clipping: one clip-safe scale per item, the same for every SNR: when the
  loudest of the item's possible mixtures would peak above ``PEAK_LIMIT``,
  every condition of the item is scaled by ``PEAK_LIMIT / peak``. The loudest
  is always +inf, 0 dB or -inf (a sample is linear in the two gains, which
  move along the edges of the unit square), so three peaks decide it exactly.
* ``+inf`` is exactly the speech placed in silence, ``-inf`` exactly the
  background, each with its gain above. Both sources must be non-silent for
  every condition, since each condition's level depends on both.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from sseu_harness.dataset.audio import read_mono, resample
from sseu_harness.dataset.manifest import Item, Manifest
from sseu_harness.errors import AudioError, ManifestError
from sseu_harness.spec.snr import snr_label

MIX_RATE = 44_100
PEAK_LIMIT = 0.99
LEVEL_DBFS = -25.0  # RMS of the louder source over the speech span (the DNS Challenge's target level)
MIXER_VERSION = "sseu-mix-2"  # bump when a change here changes any mixture


@dataclass(frozen=True)
class Mixture:
    waveform: np.ndarray  # float32, mono, MIX_RATE
    snr_db: float
    speech_gain: float
    background_gain: float
    speech_start: int  # samples at MIX_RATE
    speech_end: int


class Mixer:
    """Makes mixtures for any SNR; keeps a bounded cache of decoded sources (thread-safe).

    The harness asks for an item's mixtures close together (item-major order
    over the cases it runs, see pipeline.py), so a small cache decodes each
    item's sources once per pass.
    """

    def __init__(self, manifest: Manifest, cache_items: int = 32) -> None:
        self.manifest = manifest
        self._sources: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_items = cache_items
        self._levels: dict[str, _Levels] = {}  # item id -> its level rule's constants: 3 floats, computed once
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Event] = {}  # items being decoded by some thread

    def reserve(self, items: int) -> None:
        """Keep the sources of at least `items` items (a pass's block of items)."""
        with self._lock:
            self._cache_items = max(self._cache_items, items)

    def sources(self, item: Item) -> tuple[np.ndarray, np.ndarray]:
        """(speech, background) of an item, mono float32 at MIX_RATE; decoded once even when threads race."""
        if not item.has_sources:
            raise ManifestError(f"item {item.id} is pre-mixed: it has no sources to mix")
        while True:
            with self._lock:
                cached = self._sources.get(item.id)
                if cached is not None:
                    self._sources.move_to_end(item.id)
                    return cached
                loading = self._loading.get(item.id)
                if loading is None:
                    loading = self._loading[item.id] = threading.Event()
                    break
            loading.wait()  # another thread decodes it: take its result (or its error, by trying again)
        try:
            pair = self._decode(item)
            with self._lock:
                self._sources[item.id] = pair
                while len(self._sources) > self._cache_items:
                    self._sources.popitem(last=False)
            return pair
        finally:
            with self._lock:
                del self._loading[item.id]
            loading.set()

    def _decode(self, item: Item) -> tuple[np.ndarray, np.ndarray]:
        parts = [self._load(path) for path in item.speech.parts]
        if len(parts) > 1:
            gap = np.zeros(int(round(item.speech.gap * MIX_RATE)), dtype=np.float32)
            parts = [piece for part in parts for piece in (part, gap)][:-1]
        speech = np.concatenate(parts) if len(parts) > 1 else parts[0]
        background = self._load(item.background.path, item.background.start, item.background.duration)
        return speech, background

    def mix(self, item: Item, snr_db: float) -> Mixture:
        speech, background = self.sources(item)
        start = int(round(item.speech.onset * MIX_RATE))
        end = start + speech.size
        if end > background.size:
            raise ManifestError(
                f"item {item.id}: speech ({speech.size / MIX_RATE:.2f} s) starting at {item.speech.onset} s "
                f"runs past the end of its background ({background.size / MIX_RATE:.2f} s); "
                "lower speech.onset or use a longer background"
            )
        levels = self._levels.get(item.id)
        if levels is None:
            levels = self._levels[item.id] = _levels(item, speech, background, start)
        speech_gain, background_gain = levels.gains(snr_db)
        wave = background_gain * background.astype(np.float64)
        wave[start:end] += speech_gain * speech.astype(np.float64)
        return Mixture(wave.astype(np.float32), snr_db, speech_gain, background_gain, start, end)

    def waveform(self, item: Item, snr_db: float, rate: int) -> np.ndarray:
        """The mixture at the rate a model asks for: mixed from sources, or read from a pre-mixed file."""
        if item.has_sources:
            return resample(self.mix(item, snr_db).waveform, MIX_RATE, rate)
        label = snr_label(snr_db)
        if not item.available_at(label):
            raise ManifestError(f"item {item.id} has no pre-mixed file for {label}; it has {', '.join(item.premixed)}")
        wave, file_rate = read_mono(self.manifest.resolve(item.premixed[label]))
        return resample(wave, file_rate, rate)

    def _load(self, relative: str, start: float = 0.0, duration: float | None = None) -> np.ndarray:
        wave, rate = read_mono(self.manifest.resolve(relative), start, duration)
        return resample(wave, rate, MIX_RATE)


@dataclass(frozen=True)
class _Levels:
    """An item's constants of the level rule: each source's RMS over the speech span and the common level."""

    speech_rms: float
    background_rms: float
    level: float  # RMS of the louder source: 10^(LEVEL_DBFS/20), or lower where the clip-safe scale applies

    def gains(self, snr_db: float) -> tuple[float, float]:
        """(speech gain, background gain) at an SNR; +inf and -inf give a gain of 0 to the other source."""
        speech_rel = 1.0 if snr_db >= 0 else 10.0 ** (snr_db / 20.0)
        background_rel = 1.0 if snr_db <= 0 else 10.0 ** (-snr_db / 20.0)
        return self.level * speech_rel / self.speech_rms, self.level * background_rel / self.background_rms


def _levels(item: Item, speech: np.ndarray, background: np.ndarray, start: int) -> _Levels:
    """The level rule and the clip-safe scale of the module doc, for one item."""
    s = speech.astype(np.float64)
    b = background.astype(np.float64)
    speech_rms = math.sqrt(float(np.mean(np.square(s))))
    background_rms = math.sqrt(float(np.mean(np.square(b[start:start + s.size]))))
    if speech_rms == 0.0:
        raise AudioError(f"item {item.id}: speech {item.speech.path} is silent; it cannot set an SNR or a level")
    if background_rms == 0.0:
        raise AudioError(
            f"item {item.id}: background {item.background.path} is silent where the speech is; "
            "pick another onset or background"
        )
    s /= speech_rms
    b /= background_rms
    # the loudest condition is +inf, 0 dB or -inf: peaks of s, of s + b over the span, of b
    peak = max(float(np.max(np.abs(s))), float(np.max(np.abs(b))), float(np.max(np.abs(s + b[start:start + s.size]))))
    return _Levels(speech_rms, background_rms, min(10.0 ** (LEVEL_DBFS / 20.0), PEAK_LIMIT / peak))
