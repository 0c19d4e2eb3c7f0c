#!/usr/bin/env python3
"""Generate the built-in SSEU demo data set under ``sseu_harness/data/demo/``.

Run from the repository root::

    .venv/bin/python scripts/make_demo_data.py

It (re)writes, and owns, everything in that folder:

- ``speech/<id>.flac``: one English Harvard sentence (IEEE 1969 "Recommended
  Practice for Speech Quality Measurements", public domain) per item, spoken by
  ``espeak-ng -v <voice> -s <speed> -w out.wav "<text>"`` and stored
  bit-exactly as 16-bit FLAC at espeak's native 22050 Hz, mono. The voice name
  is the item's ``speaker``; the transcript is the text given to espeak.
- ``backgrounds/<id>.flac``: 8.0 s of procedurally synthesized, non-speech
  scene audio at 16000 Hz, mono, 16-bit FLAC: a scene-specific ambient bed
  (coloured noise with a scene-specific spectral tilt and hum) plus 1-4 event
  sounds, one small synthesis function per taxonomy event class. Each event's
  onset/offset in the manifest is exactly the span (to the millisecond, which
  is a whole number of samples) where its synthesized sound is non-zero.
  Each background is peak-normalised to 0.5 (about -6 dBFS).
- ``manifest.jsonl``: ``sseu-manifest/1``, written through
  ``sseu_harness.dataset.manifest.iter_manifest_lines``.
- ``SHA256SUMS``: sha256 of every audio file (``sha256sum -c`` format, paths
  relative to the folder).
- ``README.md``: what the demo audio is (not real corpora; same licence as the
  project).

Design:

- Scenes and their events are the data table ``CLIPS`` below: home has 6 clips
  carrying the 9 DESED classes (3 per clip, each class in exactly 2 clips);
  every other scene has 4 clips with MAESTRO-Real classes. Every one of the 18
  taxonomy classes appears in at least 2 clips and in fewer than all clips, so
  per-class AP has positives and negatives.
- Randomness: item number ``k`` (1-based, manifest order) draws everything
  (event durations and onsets, synthesis noise, speech onset) from its own
  ``numpy.random.default_rng([SEED, k])``, so editing one item leaves the others
  unchanged. Numbers are drawn in whole milliseconds.
- Event durations come from ``EVENT_DURATION`` (per class, seconds); onsets are
  uniform in [0.2, 8.0 - duration - 0.2]; a draw is retried (same generator)
  until at least ``MIN_QUIET`` seconds of the clip lie outside every event and
  ``ORDER`` constraints hold (a metro arrives before it leaves).
- Speech onset (``speech.onset``): uniform in
  [0.5, BACKGROUND_SECONDS - speech_duration - 0.25], so the speech lies
  entirely inside the background. Speech clips must be shorter than 6.5 s.
- Determinism: for the same espeak-ng, libsndfile/libFLAC and NumPy versions,
  two runs give byte-identical files (compare SHA256SUMS). Only numpy (FFT
  filtering) and soundfile are used; espeak-ng must be on PATH.

The script checks its own output before writing the manifest: timestamps lie on
the synthesized sound, every 2 s window of a background is audible, each
event's span is louder than the event-free part of its clip, class coverage is
complete, and the folder stays under 6 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from sseu_harness.dataset.manifest import DEMO_DIR, MANIFEST_NAME, Background, Event, Item, Speech, iter_manifest_lines
from sseu_harness.spec.taxonomy import load_taxonomy

SEED = 20240917
BACKGROUND_SR = 16000
BACKGROUND_SECONDS = 8.0
SPEECH_SR = 22050  # espeak-ng's native rate
MAX_SPEECH_SECONDS = 6.5
PEAK = 0.5  # about -6 dBFS
MIN_QUIET = 1.5  # seconds of every clip outside all events
MAX_BYTES = 6 * 1024 * 1024

# ---------------------------------------------------------------------------
# The data table: which clip of which scene carries which events.
CLIPS: dict[str, list[list[str]]] = {
    "home": [
        ["dog", "dishes", "running_water"],
        ["alarm_bell_ringing", "cat", "frying"],
        ["blender", "vacuum_cleaner", "electric_shaver_toothbrush"],
        ["running_water", "dog", "electric_shaver_toothbrush"],
        ["frying", "dishes", "blender"],
        ["cat", "alarm_bell_ringing", "vacuum_cleaner"],
    ],
    "cafe_restaurant": [
        ["cutlery_and_dishes", "footsteps"],
        ["cutlery_and_dishes"],
        ["footsteps", "cutlery_and_dishes"],
        ["footsteps"],
    ],
    "city_center": [
        ["car", "footsteps", "birds_singing"],
        ["large_vehicle", "brakes_squeaking", "car"],
        ["car", "footsteps", "brakes_squeaking"],
        ["large_vehicle", "birds_singing", "footsteps"],
    ],
    "grocery_store": [
        ["footsteps"],
        ["footsteps", "cutlery_and_dishes"],
        ["cutlery_and_dishes"],
        ["footsteps", "cutlery_and_dishes"],
    ],
    "metro_station": [
        ["metro_approaching", "footsteps"],
        ["metro_leaving", "footsteps"],
        ["metro_approaching", "metro_leaving"],
        ["footsteps", "metro_leaving", "metro_approaching"],
    ],
    "residential_area": [
        ["birds_singing", "car"],
        ["wind_blowing", "birds_singing"],
        ["footsteps", "wind_blowing", "car"],
        ["birds_singing", "footsteps", "wind_blowing"],
    ],
}

# (min, max) duration in seconds per event class.
EVENT_DURATION: dict[str, tuple[float, float]] = {
    "alarm_bell_ringing": (1.5, 3.0),
    "blender": (2.0, 3.5),
    "cat": (0.8, 2.0),
    "dishes": (0.8, 2.2),
    "dog": (0.6, 2.0),
    "electric_shaver_toothbrush": (1.5, 3.0),
    "frying": (2.0, 3.5),
    "running_water": (2.0, 3.5),
    "vacuum_cleaner": (2.0, 3.5),
    "birds_singing": (1.0, 3.0),
    "car": (2.0, 3.5),
    "footsteps": (2.0, 4.0),
    "wind_blowing": (2.5, 4.0),
    "brakes_squeaking": (0.8, 1.8),
    "large_vehicle": (2.5, 4.0),
    "cutlery_and_dishes": (1.0, 3.0),
    "metro_approaching": (2.5, 3.5),
    "metro_leaving": (2.5, 3.5),
}

# Event RMS relative to its scene's ambient bed (linear), per class.
EVENT_GAIN: dict[str, float] = {
    "alarm_bell_ringing": 6.0,
    "blender": 7.0,
    "cat": 6.0,
    "dishes": 5.0,
    "dog": 7.0,
    "electric_shaver_toothbrush": 5.0,
    "frying": 5.0,
    "running_water": 6.0,
    "vacuum_cleaner": 7.0,
    "birds_singing": 5.0,
    "car": 6.0,
    "footsteps": 5.0,
    "wind_blowing": 5.0,
    "brakes_squeaking": 6.0,
    "large_vehicle": 7.0,
    "cutlery_and_dishes": 4.0,
    "metro_approaching": 6.0,
    "metro_leaving": 6.0,
}

# (earlier, later): when a clip has both, `earlier` starts first.
ORDER = [("metro_approaching", "metro_leaving")]

# Ambient bed per scene: spectral tilt (power ~ f**-tilt), band (Hz), hum
# fundamental (Hz, 0 = none) and hum level relative to the noise.
BEDS: dict[str, dict] = {
    "home": {"tilt": 1.6, "band": (30, 3000), "hum": 50.0, "hum_level": 0.5},
    "cafe_restaurant": {"tilt": 0.8, "band": (120, 4000), "hum": 0.0, "hum_level": 0.0},
    "city_center": {"tilt": 1.4, "band": (25, 5000), "hum": 0.0, "hum_level": 0.0},
    "grocery_store": {"tilt": 1.0, "band": (60, 6000), "hum": 60.0, "hum_level": 0.6},
    "metro_station": {"tilt": 1.9, "band": (20, 2500), "hum": 100.0, "hum_level": 0.4},
    "residential_area": {"tilt": 1.0, "band": (40, 7000), "hum": 0.0, "hum_level": 0.0},
}
BED_RMS = 0.02  # before peak normalisation

# Harvard sentences (IEEE 1969), lists 1-3; one per item, in manifest order.
SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
]

# espeak-ng voices used as "speakers" (voice name -> words per minute).
VOICES: list[tuple[str, int]] = [
    ("en-us", 165),
    ("en-gb", 160),
    ("en-gb-scotland", 155),
    ("en-us+f2", 170),
    ("en-gb-x-rp+f4", 160),
    ("en-029", 150),
    ("en-us-nyc+m3", 165),
    ("en-gb-x-gbcwmd+f3", 155),
]


# ---------------------------------------------------------------------------
# Signal helpers (numpy only).
def fft_filter(x: np.ndarray, gain) -> np.ndarray:
    """Filter `x` by a zero-phase gain curve `gain(freqs_hz) -> array`."""
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / BACKGROUND_SR)
    return np.fft.irfft(spec * gain(freqs), n=len(x))


def band(lo: float, hi: float, width: float = 0.15):
    """A band-pass gain curve with smooth (log-frequency raised-cosine) edges."""

    def gain(f: np.ndarray) -> np.ndarray:
        lf = np.log2(np.maximum(f, 1.0))
        g = np.ones_like(f)
        lo_l, hi_l = np.log2(max(lo, 1.0)), np.log2(hi)
        w = max(width, 1e-3)
        g = g * np.clip((lf - (lo_l - w)) / (2 * w), 0, 1)
        g = g * np.clip(((hi_l + w) - lf) / (2 * w), 0, 1)
        return 0.5 - 0.5 * np.cos(np.pi * g)

    return gain


def formants(peaks: list[tuple[float, float, float]]):
    """Sum of Gaussian bumps (centre Hz, bandwidth Hz, level)."""

    def gain(f: np.ndarray) -> np.ndarray:
        g = np.zeros_like(f)
        for centre, bw, level in peaks:
            g = g + level * np.exp(-0.5 * ((f - centre) / bw) ** 2)
        return g

    return gain


def noise(rng: np.random.Generator, n: int, lo: float = 20, hi: float = 7800) -> np.ndarray:
    return fft_filter(rng.standard_normal(n), band(lo, hi))


def smooth_noise(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    """A slowly varying random curve in [0, 1] (low-passed noise)."""
    x = fft_filter(rng.standard_normal(n), lambda f: np.exp(-0.5 * (f / rate_hz) ** 2))
    x = x - x.min()
    return x / (x.max() + 1e-12)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def normalise(x: np.ndarray) -> np.ndarray:
    return x / (rms(x) + 1e-12)


def times(n: int) -> np.ndarray:
    return np.arange(n) / BACKGROUND_SR


def fade(x: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    k = min(int(seconds * BACKGROUND_SR), len(x) // 2)
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k))
        x = x.copy()
        x[:k] *= ramp
        x[-k:] *= ramp[::-1]
    return x


def pulse_starts(rng: np.random.Generator, n: int, pulse: int, mean_gap: float, jitter: float) -> list[int]:
    """Start samples of pulses of length `pulse`: the first at 0, the last ending at n.

    Pulses are spread evenly about `mean_gap` seconds apart; interior ones move
    by up to +-jitter/2 of the gap.
    """
    span = n - pulse
    if span <= 0:
        return [0]
    count = max(1, int(round(span / (mean_gap * BACKGROUND_SR))))
    gap = span / count
    starts = [0]
    for i in range(1, count):
        starts.append(int(round(i * gap + (rng.random() - 0.5) * jitter * gap)))
    starts.append(span)
    return starts


def place(out: np.ndarray, starts: list[int], make) -> np.ndarray:
    for i, s in enumerate(starts):
        p = make(i)
        e = min(len(out), s + len(p))
        out[s:e] += p[: e - s]
    return out


def decaying_partials(rng, n, freqs, tau, amps=None) -> np.ndarray:
    t = times(n)
    amps = amps if amps is not None else [1.0] * len(freqs)
    out = np.zeros(n)
    for f, a in zip(freqs, amps):
        out += a * np.sin(2 * np.pi * f * t + rng.random() * 2 * np.pi) * np.exp(-t / tau)
    return fade(out, 0.002)


def harmonic_tone(f0: np.ndarray, n_harm: int, rolloff: float = 1.0) -> np.ndarray:
    """Harmonics of a time-varying f0 (Hz per sample), 1/k**rolloff, alias-free."""
    phase = 2 * np.pi * np.cumsum(f0) / BACKGROUND_SR
    out = np.zeros(len(f0))
    for k in range(1, n_harm + 1):
        a = (1.0 / k**rolloff) * (k * f0 < 0.45 * BACKGROUND_SR)
        out += a * np.sin(k * phase)
    return out


# ---------------------------------------------------------------------------
# One synthesis function per event class: (rng, n samples) -> signal of RMS 1,
# non-zero from its first to its last sample.
def alarm_bell_ringing(rng, n):
    f0 = rng.uniform(900, 1100)
    partials = [f0, f0 * 2.32, f0 * 2.71]  # inharmonic bell partials, < 3 kHz
    strike = int(BACKGROUND_SR / rng.uniform(14, 18))  # electric bell hammer
    ring = decaying_partials(rng, strike * 4, partials, 0.08, [1.0, 0.6, 0.4])
    return place(np.zeros(n), list(range(0, n, strike)), lambda i: ring)


def blender(rng, n):
    t = times(n)
    f0 = rng.uniform(180, 260) * (1 + 0.03 * np.sin(2 * np.pi * 3.1 * t)) * np.minimum(1, 0.6 + t / 0.5)
    motor = harmonic_tone(f0, 30, 0.8)
    whirl = fft_filter(rng.standard_normal(n), band(500, 4000))
    return normalise(motor) + 0.8 * normalise(whirl)


def cat(rng, n):
    out = np.zeros(n)
    count = max(1, int(n / BACKGROUND_SR / 0.9))
    length = n // count
    for i in range(count):
        m = int(length * rng.uniform(0.75, 0.9)) if i < count - 1 else length
        s = i * length if i < count - 1 else n - m
        u = np.linspace(0, 1, m)
        base = rng.uniform(450, 550)
        f0 = base * (1 + 0.6 * np.sin(np.pi * u) ** 1.5 - 0.15 * u)  # "mee-ow" rise and fall
        vib = 1 + 0.02 * np.sin(2 * np.pi * 6 * u * m / BACKGROUND_SR)
        tone = harmonic_tone(f0 * vib, 12, 1.2)
        tone = fft_filter(tone, formants([(900, 300, 1.0), (1700, 400, 0.7), (3000, 600, 0.3)]))
        env = np.sin(np.pi * u) ** 0.5
        out[s : s + m] += normalise(tone) * np.maximum(env, 0.15)
    return out


def _clinks(rng, n, lo, hi, rate, tau):
    def clink(_):
        freqs = np.sort(rng.uniform(lo, hi, 4))
        return decaying_partials(rng, int(0.25 * BACKGROUND_SR), freqs, rng.uniform(*tau), rng.uniform(0.4, 1.0, 4))

    # placed as if 60 ms long, so the last clink rings right up to the offset
    return place(np.zeros(n), pulse_starts(rng, n, int(0.06 * BACKGROUND_SR), 1.0 / rate, 0.8), clink)


def dishes(rng, n):
    clinks = _clinks(rng, n, 1800, 5500, 5.0, (0.04, 0.12))
    return clinks + 0.05 * normalise(noise(rng, n, 1500, 5000)) * rms(clinks)


def dog(rng, n):
    bark_len = int(0.2 * BACKGROUND_SR)

    def bark(_):
        u = np.linspace(0, 1, bark_len)
        f0 = rng.uniform(350, 500) * (1 + 0.3 * np.sin(np.pi * u))
        src = harmonic_tone(f0, 15, 0.9) + 0.6 * rng.standard_normal(bark_len)
        src = fft_filter(src, formants([(700, 200, 1.0), (1400, 300, 0.8), (2600, 500, 0.3)]))
        env = np.minimum(1, u / 0.08) * np.exp(-3 * u)
        return fade(normalise(src) * env, 0.003)

    return place(np.zeros(n), pulse_starts(rng, n, bark_len, 0.35, 0.4), bark)


def electric_shaver_toothbrush(rng, n):
    t = times(n)
    f0 = rng.uniform(110, 130) * (1 + 0.01 * np.sin(2 * np.pi * 0.7 * t))
    saw = harmonic_tone(f0, 60, 1.0)  # band-limited sawtooth: buzzy
    saw = fft_filter(saw, lambda f: 0.3 + band(1000, 5000)(f))
    return saw * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))


def frying(rng, n):
    hiss = 0.4 * normalise(noise(rng, n, 2000, 7500))
    crackle_len = int(0.02 * BACKGROUND_SR)

    def crackle(_):
        c = rng.standard_normal(crackle_len) * np.exp(-np.arange(crackle_len) / (0.002 * BACKGROUND_SR))
        return rng.uniform(3, 10) * fft_filter(c, band(1500, 7800))

    crackles = place(np.zeros(n), pulse_starts(rng, n, crackle_len, 0.025, 0.95), crackle)
    return hiss + crackles


def running_water(rng, n):
    flow = normalise(noise(rng, n, 400, 3000))
    flutter = 0.5 + smooth_noise(rng, n, 15.0)
    bubble_len = int(0.04 * BACKGROUND_SR)

    def bubble(_):
        u = times(bubble_len)
        f = rng.uniform(800, 2500) * (1 + 8 * u)
        return 0.8 * np.sin(2 * np.pi * np.cumsum(f) / BACKGROUND_SR) * np.exp(-u / 0.01)

    bubbles = place(np.zeros(n), pulse_starts(rng, n, bubble_len, 0.06, 0.9), bubble)
    return flow * flutter + bubbles


def vacuum_cleaner(rng, n):
    t = times(n)
    spin_up = np.minimum(1, 0.3 + t / 0.6)
    roar = normalise(noise(rng, n, 100, 6000))
    whine = harmonic_tone(rng.uniform(550, 650) * spin_up, 4, 1.0)
    return (roar + 0.6 * normalise(whine)) * (0.4 + 0.6 * spin_up)


def birds_singing(rng, n):
    chirp_len = int(0.08 * BACKGROUND_SR)

    def chirp(_):
        u = times(chirp_len)
        lo, hi = rng.uniform(2000, 3000), rng.uniform(4500, 6000)
        f = lo + (hi - lo) * (u / u[-1]) if rng.random() < 0.5 else hi - (hi - lo) * (u / u[-1])
        ph = 2 * np.pi * np.cumsum(f) / BACKGROUND_SR
        return fade(np.sin(ph) * np.sin(np.pi * u / u[-1]), 0.003)

    return place(np.zeros(n), pulse_starts(rng, n, chirp_len, 0.13, 0.6), chirp)


def car(rng, n):
    u = np.linspace(-1, 1, n)
    passby = 0.25 + 0.75 * np.exp(-0.5 * (u / 0.4) ** 2)
    doppler = 1 + 0.04 * -np.tanh(3 * u)
    rumble = normalise(noise(rng, n, 30, 600))
    tyres = normalise(noise(rng, n, 600, 3000))
    engine = normalise(harmonic_tone(rng.uniform(35, 45) * doppler, 12, 1.0))
    return (rumble + 0.4 * tyres + 0.7 * engine) * passby


def footsteps(rng, n):
    step_len = int(0.12 * BACKGROUND_SR)

    def step(_):
        u = times(step_len)
        thud = np.sin(2 * np.pi * rng.uniform(80, 120) * u) * np.exp(-u / 0.03)
        scuff = fft_filter(rng.standard_normal(step_len), band(300, 3000)) * np.exp(-u / 0.015)
        return fade(thud + 0.3 * normalise(scuff) * 0.5, 0.002)

    return place(np.zeros(n), pulse_starts(rng, n, step_len, rng.uniform(0.45, 0.6), 0.1), step)


def wind_blowing(rng, n):
    gust = 0.35 + 0.65 * smooth_noise(rng, n, 0.6)
    low = normalise(noise(rng, n, 20, 500))
    whistle = normalise(fft_filter(rng.standard_normal(n), formants([(rng.uniform(600, 900), 40, 1.0)])))
    return (low + 0.3 * whistle) * gust


def brakes_squeaking(rng, n):
    t = times(n)
    u = np.linspace(0, 1, n)
    f0 = rng.uniform(3000, 3800) * (1 + 0.01 * np.sin(2 * np.pi * 7 * t))
    squeal = harmonic_tone(f0, 2, 0.5)
    env = 0.3 + 0.7 * np.sin(np.pi * u) ** 0.7
    return squeal * env


def large_vehicle(rng, n):
    u = np.linspace(-1, 1, n)
    env = 0.35 + 0.65 * np.exp(-0.5 * (u / 0.55) ** 2)
    rumble = normalise(noise(rng, n, 20, 200))
    engine = normalise(harmonic_tone(rng.uniform(25, 32) * np.ones(n), 16, 0.7))
    rattle = normalise(noise(rng, n, 300, 1500))
    return (rumble + 0.9 * engine + 0.2 * rattle) * env


def cutlery_and_dishes(rng, n):
    clinks = _clinks(rng, n, 2500, 7000, 9.0, (0.02, 0.06))
    scrape = normalise(noise(rng, n, 2000, 6000)) * (0.3 * smooth_noise(rng, n, 4.0))
    return clinks + 0.4 * rms(clinks) * scrape


def _metro(rng, n, arriving: bool):
    u = np.linspace(0, 1, n)
    level = 0.15 + 0.85 * (u**1.5 if arriving else (1 - u) ** 1.5)
    # arriving: the drive whine falls as the train brakes; leaving: it rises.
    whine_f = rng.uniform(350, 450) * ((1.6 - 0.6 * u) if arriving else (1.0 + 0.6 * u))
    rumble = normalise(noise(rng, n, 25, 400))
    rail = normalise(noise(rng, n, 400, 2500))
    whine = normalise(harmonic_tone(whine_f, 5, 1.0))
    clack_len = int(0.05 * BACKGROUND_SR)

    def clack(_):
        c = fft_filter(rng.standard_normal(clack_len), band(150, 4000))
        return fade(c * np.exp(-np.arange(clack_len) / 200.0), 0.002)

    clacks = place(np.zeros(n), pulse_starts(rng, n, clack_len, 0.4, 0.2), clack)
    return (rumble + 0.5 * rail + 0.5 * whine + 0.6 * clacks) * level


def metro_approaching(rng, n):
    return _metro(rng, n, True)


def metro_leaving(rng, n):
    return _metro(rng, n, False)


SYNTH = {
    f.__name__: f
    for f in (
        alarm_bell_ringing, blender, cat, dishes, dog, electric_shaver_toothbrush, frying,
        running_water, vacuum_cleaner, birds_singing, car, footsteps, wind_blowing,
        brakes_squeaking, large_vehicle, cutlery_and_dishes, metro_approaching, metro_leaving,
    )
}


def ambient_bed(rng, scene: str, n: int) -> np.ndarray:
    spec = BEDS[scene]
    lo, hi = spec["band"]
    tilt = spec["tilt"]
    bed = fft_filter(
        rng.standard_normal(n),
        lambda f: band(lo, hi, 0.3)(f) * np.maximum(f, lo) ** (-tilt / 2),
    )
    bed = normalise(bed)
    if spec["hum"]:
        t = times(n)
        hum = harmonic_tone(spec["hum"] * np.ones(n), 4, 1.5) * (1 + 0.1 * np.sin(2 * np.pi * 0.3 * t))
        bed = bed + spec["hum_level"] * normalise(hum)
    return BED_RMS * normalise(bed)


# ---------------------------------------------------------------------------
def draw_events(rng, labels: list[str]) -> list[tuple[str, int, int]]:
    """(label, onset_ms, offset_ms) per label, drawn until MIN_QUIET and ORDER hold."""
    total_ms = int(BACKGROUND_SECONDS * 1000)
    for _ in range(1000):
        spans = []
        for label in labels:
            lo, hi = EVENT_DURATION[label]
            dur = int(rng.integers(int(lo * 1000), int(hi * 1000) + 1))
            onset = int(rng.integers(200, total_ms - dur - 200 + 1))
            spans.append((label, onset, onset + dur))
        covered = np.zeros(total_ms, dtype=bool)
        for _, a, b in spans:
            covered[a:b] = True
        starts = {label: a for label, a, _ in spans}
        ordered = all(starts[a] < starts[b] for a, b in ORDER if a in starts and b in starts)
        if (total_ms - covered.sum()) / 1000 >= MIN_QUIET and ordered:
            return spans
    raise RuntimeError(f"cannot place events {labels} in {BACKGROUND_SECONDS} s")


def make_background(rng, scene: str, labels: list[str]) -> tuple[np.ndarray, list[Event]]:
    n = int(BACKGROUND_SECONDS * BACKGROUND_SR)
    bed = ambient_bed(rng, scene, n)
    mix = bed.copy()
    spans = draw_events(rng, labels)
    ms = BACKGROUND_SR // 1000
    events = []
    for label, a, b in spans:
        m = (b - a) * ms
        sig = fade(normalise(SYNTH[label](rng, m)), 0.01)
        edge = int(0.05 * BACKGROUND_SR)  # the sound must really start at onset and end at offset
        assert rms(sig[:edge]) > 0.1 and rms(sig[-edge:]) > 0.05, (label, rms(sig[:edge]), rms(sig[-edge:]))
        mix[a * ms : b * ms] += EVENT_GAIN[label] * BED_RMS * sig
        events.append(Event(label, round(a / 1000, 3), round(b / 1000, 3)))
    mix *= PEAK / np.max(np.abs(mix))
    pcm = np.round(mix * 32767).astype(np.int16)
    check_background(pcm.astype(np.float64) / 32768, events)
    return pcm, sorted(events, key=lambda e: (e.onset, e.label))


def check_background(x: np.ndarray, events: list[Event]) -> None:
    sr = BACKGROUND_SR
    for s in range(0, len(x) - 2 * sr + 1, sr // 10):  # audible in every 2 s window
        assert rms(x[s : s + 2 * sr]) > 10 ** (-50 / 20), "silent 2 s span"
    mask = np.zeros(len(x), dtype=bool)
    for e in events:
        mask[int(round(e.onset * sr)) : int(round(e.offset * sr))] = True
    quiet = rms(x[~mask])
    for e in events:
        loud = rms(x[int(round(e.onset * sr)) : int(round(e.offset * sr))])
        assert loud > 2 * quiet, (e, loud, quiet)


def make_speech(text: str, voice: str, speed: int, tmp: Path) -> np.ndarray:
    wav = tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    data, sr = sf.read(wav, dtype="int16")
    assert sr == SPEECH_SR and data.ndim == 1, (sr, data.shape)
    assert len(data) / sr < MAX_SPEECH_SECONDS, f"{text!r} lasts {len(data) / sr:.2f} s"
    return data


def write_flac(path: Path, pcm: np.ndarray, sr: int) -> None:
    sf.write(path, pcm, sr, format="FLAC", subtype="PCM_16")


README = """\
# SSEU demo data set

A small, self-contained stand-in for SSEU-Bench, built into the harness so that
it runs end to end without downloading any corpus. **This is not real
benchmark data:** none of it comes from VCTK, DESED or MAESTRO-Real, and scores
on it say nothing about a model's SSEU-Bench results.

Generated by `scripts/make_demo_data.py` (seed {seed}); rerunning it rebuilds
the folder byte-identically (same espeak-ng, libsndfile and NumPy versions).
Check the audio with `sha256sum -c SHA256SUMS` from this folder.

## Contents

- `manifest.jsonl`: `sseu-manifest/1`, {n_items} items.
- `speech/*.flac`: one Harvard sentence (IEEE 1969, "Recommended Practice for
  Speech Quality Measurements", public domain) per item, spoken by the
  espeak-ng speech synthesizer. The `speaker` field is the espeak-ng voice; the
  transcript is exactly the text given to espeak-ng. Mono, {speech_sr} Hz,
  16-bit FLAC, each shorter than 6.5 s.
- `backgrounds/*.flac`: {bg_seconds:g} s of procedurally synthesized, non-speech
  scene audio (NumPy, seeded): a scene-specific ambient bed of coloured noise
  and hum plus 1-4 synthetic event sounds, made by one small function per
  event class of `taxonomy.toml`. Event onsets/offsets in the manifest are
  exactly where each synthesized sound lies (to the millisecond). Mono,
  {bg_sr} Hz, 16-bit FLAC, peak-normalised to 0.5 (about -6 dBFS). All 18
  event classes occur, each in at least 2 clips and never in all.
- `speech.onset` (seconds into the background): drawn uniformly in
  [0.5, {bg_seconds:g} - speech duration - 0.25], so the speech lies inside
  the background.
- `SHA256SUMS`: sha256 of every audio file.

Synthesizer: {espeak}. Voices: {voices}.

## Clips and events per scene

{scene_table}

## Licence

The same as the project (Apache-2.0). The sentences are public domain; the
audio is synthetic and was made for this project.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output folder (default: the package's demo set)")
    args = parser.parse_args(argv)
    out: Path = args.out

    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not on PATH (apt-get install espeak-ng)")
    taxonomy = load_taxonomy()
    assert list(CLIPS) == taxonomy.scene_ids, "CLIPS must list the taxonomy's scenes in order"
    assert set(SYNTH) == set(taxonomy.event_ids) == set(EVENT_DURATION) == set(EVENT_GAIN)
    n_items = sum(len(c) for c in CLIPS.values())
    assert len(SENTENCES) >= n_items and len(set(SENTENCES)) == len(SENTENCES)

    for sub in ("speech", "backgrounds"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob("*.flac"):
            stale.unlink()

    items: list[Item] = []
    k = 0
    with tempfile.TemporaryDirectory() as tmp:
        for scene, clips in CLIPS.items():
            for index, labels in enumerate(clips, start=1):
                assert 1 <= len(labels) <= 4 and len(set(labels)) == len(labels), (scene, labels)
                k += 1
                rng = np.random.default_rng([SEED, k])
                item_id = f"demo-{scene}-{index:02d}"
                pcm, events = make_background(rng, scene, labels)
                bg_path = f"backgrounds/{item_id}.flac"
                write_flac(out / bg_path, pcm, BACKGROUND_SR)

                text = SENTENCES[k - 1]
                voice, speed = VOICES[(k - 1) % len(VOICES)]
                speech = make_speech(text, voice, speed, Path(tmp))
                sp_path = f"speech/{item_id}.flac"
                write_flac(out / sp_path, speech, SPEECH_SR)
                duration = len(speech) / SPEECH_SR
                hi_ms = int((BACKGROUND_SECONDS - duration - 0.25) * 1000)
                onset = int(rng.integers(500, hi_ms + 1)) / 1000
                assert onset + duration <= BACKGROUND_SECONDS - 0.25 + 1e-9

                items.append(
                    Item(
                        id=item_id,
                        speech=Speech(path=sp_path, transcript=text, speaker=voice, onset=round(onset, 3)),
                        background=Background(path=bg_path, source="demo", scene=scene, events=tuple(events)),
                    )
                )

    # class coverage: every class in >= 2 clips and fewer than all
    counts = {e: sum(e in it.background.event_labels for it in items) for e in taxonomy.event_ids}
    assert all(2 <= c < len(items) for c in counts.values()), counts

    header = {
        "name": "sseu-demo",
        "description": (
            "Built-in demo set: Harvard sentences spoken by espeak-ng voices over procedurally "
            "synthesized scene backgrounds with exact event timestamps; not real corpora."
        ),
        "seed": SEED,
        "generator": "scripts/make_demo_data.py",
    }
    (out / MANIFEST_NAME).write_text("".join(line + "\n" for line in iter_manifest_lines(header, items)), encoding="utf-8")

    audio = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.flac"))
    sums = "".join(f"{hashlib.sha256((out / p).read_bytes()).hexdigest()}  {p}\n" for p in audio)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")

    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.split("Data")[0]
    rows = ["| scene | clips | events (clips carrying each) |", "|---|---|---|"]
    for scene, clips in CLIPS.items():
        per = {label: sum(label in c for c in clips) for label in sorted({l for c in clips for l in c})}
        rows.append(f"| {scene} | {len(clips)} | " + ", ".join(f"{l} {n}" for l, n in per.items()) + " |")
    (out / "README.md").write_text(
        README.format(
            seed=SEED,
            n_items=len(items),
            scene_table="\n".join(rows),
            espeak=espeak.strip(),
            voices=", ".join(v for v, _ in VOICES),
            speech_sr=SPEECH_SR,
            bg_seconds=BACKGROUND_SECONDS,
            bg_sr=BACKGROUND_SR,
        ),
        encoding="utf-8",
    )

    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size <= MAX_BYTES, f"demo set is {size} bytes, over {MAX_BYTES}"
    print(f"wrote {len(items)} items to {out} ({size / 1e6:.2f} MB)")
    for scene, clips in CLIPS.items():
        per = {}
        for labels in clips:
            for label in labels:
                per[label] = per.get(label, 0) + 1
        print(f"  {scene}: " + ", ".join(f"{l} {c}" for l, c in sorted(per.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
