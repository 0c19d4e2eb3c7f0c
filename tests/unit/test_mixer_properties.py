"""Property-based tests of the mixing rule: any signals, any SNR, the SNR holds and nothing clips."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sseu_harness.dataset.manifest import Background, Item, Speech
from sseu_harness.dataset.mixer import MIX_RATE, PEAK_LIMIT, Mixer


def _mixer_with(speech: np.ndarray, background: np.ndarray) -> Mixer:
    mixer = Mixer(manifest=None)  # sources injected: these tests are about the mixing rule, not file I/O
    mixer.sources = lambda item: (speech, background)
    return mixer


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    snr=st.floats(-30, 30, allow_nan=False),
    speech_level=st.floats(1e-3, 1.0),
    background_level=st.floats(1e-3, 1.0),
    speech_len=st.integers(200, 4_000),
    extra=st.integers(0, 4_000),
    onset_fraction=st.floats(0, 1),
)
def test_any_mixture_has_its_snr_and_never_clips(seed, snr, speech_level, background_level, speech_len, extra,
                                                 onset_fraction):
    rng = np.random.default_rng(seed)
    speech = np.clip(speech_level * rng.standard_normal(speech_len), -1, 1).astype(np.float32)
    background = np.clip(background_level * rng.standard_normal(speech_len + extra), -1, 1).astype(np.float32)
    onset = int(onset_fraction * extra) / MIX_RATE
    item = Item("x", Speech("s", "t", "spk", onset), Background("b", "test", "home"))
    mixer = _mixer_with(speech, background)
    mix = mixer.mix(item, snr)
    start, end = mix.speech_start, mix.speech_end
    speech_part = mix.speech_gain * speech.astype(np.float64)
    background_part = mix.background_gain * background[start:end].astype(np.float64)
    measured = 10 * math.log10(np.sum(speech_part**2) / np.sum(background_part**2))
    assert abs(measured - snr) < 0.05
    assert np.max(np.abs(mix.waveform)) <= PEAK_LIMIT + 1e-6
    assert mix.waveform.size == background.size
    assert np.array_equal(mix.waveform, mixer.mix(item, snr).waveform)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    snr=st.floats(0, 30, allow_nan=False),
    speech_level=st.floats(1e-3, 1.0),
    background_level=st.floats(1e-3, 1.0),
    spikes=st.integers(0, 20),
)
def test_the_louder_source_keeps_one_gain_on_its_side_of_0_db(seed, snr, speech_level, background_level, spikes):
    rng = np.random.default_rng(seed)
    speech = np.clip(speech_level * rng.standard_normal(2_000), -1, 1).astype(np.float32)
    background = np.clip(background_level * rng.standard_normal(6_000), -1, 1).astype(np.float32)
    background[rng.integers(0, background.size, spikes)] = 1.0  # impulses force the clip-safe scale
    item = Item("x", Speech("s", "t", "spk", 1_000 / MIX_RATE), Background("b", "test", "home"))
    mixer = _mixer_with(speech, background)
    assert mixer.mix(item, snr).speech_gain == mixer.mix(item, math.inf).speech_gain
    assert mixer.mix(item, -snr).background_gain == mixer.mix(item, -math.inf).background_gain
    for db in (math.inf, snr, 0.0, -snr, -math.inf):
        assert np.max(np.abs(mixer.mix(item, db).waveform)) <= PEAK_LIMIT + 1e-6
