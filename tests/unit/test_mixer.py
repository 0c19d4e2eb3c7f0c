"""The mixer against mixtures rebuilt by hand from the source files with numpy and soxr."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.dataset.mixer import LEVEL_DBFS, MIX_RATE, PEAK_LIMIT, Mixer
from sseu_harness.errors import AudioError, ManifestError
from tests.helpers.sets import item_row, write_set

DEMO = Path(__file__).resolve().parents[2] / "sseu_harness" / "data" / "demo"


def _sources_by_hand(root, item):
    speech, sr_s = sf.read(root / item.speech.path, dtype="float32")
    background, sr_b = sf.read(root / item.background.path, dtype="float32")
    speech = soxr.resample(speech, sr_s, MIX_RATE, quality="HQ")
    background = soxr.resample(background, sr_b, MIX_RATE, quality="HQ")
    start = int(round(item.speech.onset * MIX_RATE))
    placed = np.zeros(background.size)
    placed[start:start + speech.size] = speech
    return placed, background.astype(np.float64), start, start + speech.size


@pytest.mark.parametrize("snr", [10.0, 5.0, 0.0, -5.0, -10.0, 3.7])
def test_mixture_has_the_target_snr_over_the_speech_span(small_set, snr):
    manifest = load_manifest(small_set)
    item = manifest.items[0]
    mix = Mixer(manifest).mix(item, snr)
    placed, background, start, end = _sources_by_hand(manifest.root, item)
    speech_part = mix.speech_gain * placed
    background_part = mix.background_gain * background
    np.testing.assert_allclose(mix.waveform, speech_part + background_part, atol=2e-6)
    measured = 10 * math.log10(np.sum(speech_part[start:end] ** 2) / np.sum(background_part[start:end] ** 2))
    assert abs(measured - snr) < 0.05
    assert (mix.speech_start, mix.speech_end) == (start, end)


def test_loud_mixture_is_scaled_not_clipped(tmp_path):
    t = np.arange(16_000) / 16_000
    sf.write(tmp_path / "s.wav", (0.95 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16_000, subtype="FLOAT")
    clicks = np.zeros(48_000)
    clicks[::1_600] = 0.9  # a click every 0.1 s: a crest factor of 32 dB, so it would clip at the target level
    sf.write(tmp_path / "b.wav", clicks.astype(np.float32), 16_000, subtype="FLOAT")
    manifest = load_manifest(write_set(tmp_path, [item_row("x", "s.wav", "b.wav", onset=1.0)]))
    item = manifest.items[0]
    mix = Mixer(manifest).mix(item, -5.0)
    assert np.max(np.abs(mix.waveform)) <= PEAK_LIMIT + 1e-6
    placed, background, start, end = _sources_by_hand(tmp_path, item)
    background_level = 20 * math.log10(mix.background_gain * np.sqrt(np.mean(background[start:end] ** 2)))
    assert background_level < LEVEL_DBFS - 1  # the item was scaled down from the target level, not clipped
    ratio = np.sum((mix.speech_gain * placed[start:end]) ** 2) / np.sum((mix.background_gain * background[start:end]) ** 2)
    assert abs(10 * math.log10(ratio) + 5.0) < 0.05


def test_infinite_snrs_are_exactly_one_source_at_the_target_level(small_set):
    manifest = load_manifest(small_set)
    item = manifest.items[0]
    mixer = Mixer(manifest)
    placed, background, start, end = _sources_by_hand(manifest.root, item)
    speech_only = mixer.mix(item, math.inf)
    background_only = mixer.mix(item, -math.inf)
    assert (speech_only.background_gain, background_only.speech_gain) == (0.0, 0.0)
    assert np.array_equal(speech_only.waveform, (speech_only.speech_gain * placed).astype(np.float32))
    assert np.array_equal(background_only.waveform, (background_only.background_gain * background).astype(np.float32))
    rms = lambda x: 20 * math.log10(np.sqrt(np.mean(x**2)))  # noqa: E731
    peak = max(np.max(np.abs(mixer.mix(item, db).waveform)) for db in (math.inf, 0.0, -math.inf))
    if peak < PEAK_LIMIT - 1e-4:  # no clip-safe scaling: the louder source sits at the target level
        assert rms(speech_only.waveform[start:end]) == pytest.approx(LEVEL_DBFS, abs=1e-3)
        assert rms(background_only.waveform[start:end]) == pytest.approx(LEVEL_DBFS, abs=1e-3)


def test_mixing_is_deterministic_and_resamples_to_the_model_rate(small_set):
    manifest = load_manifest(small_set)
    item = manifest.items[0]
    first = Mixer(manifest).waveform(item, 0.0, 16_000)
    second = Mixer(manifest).waveform(item, 0.0, 16_000)
    assert np.array_equal(first, second)
    full = Mixer(manifest).mix(item, 0.0).waveform
    assert first.dtype == np.float32
    assert first.size == pytest.approx(full.size * 16_000 / MIX_RATE, abs=1)


def test_onset_too_late_is_refused(tmp_path, small_set):
    manifest = load_manifest(write_set(tmp_path, [item_row("late", "audio/speech.wav", "audio/bg.wav", onset=2.5)]))
    with pytest.raises(ManifestError, match="late: speech .* runs past the end"):
        Mixer(manifest).mix(manifest.items[0], 0.0)


def test_silent_background_is_an_error_at_every_snr(tmp_path, small_set):
    sf.write(tmp_path / "audio" / "silent.wav", np.zeros(48_000, dtype=np.float32), 16_000)
    manifest = load_manifest(write_set(tmp_path, [item_row("q", "audio/speech.wav", "audio/silent.wav")]))
    for db in (0.0, math.inf, -math.inf):  # every condition's level depends on both sources
        with pytest.raises(AudioError, match="silent where the speech is"):
            Mixer(manifest).mix(manifest.items[0], db)


def test_bad_audio_files_name_the_path(tmp_path, small_set):
    (tmp_path / "audio" / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage")
    sf.write(tmp_path / "audio" / "nan.wav", np.full(16_000, np.nan, dtype=np.float32), 16_000, subtype="FLOAT")
    sf.write(tmp_path / "audio" / "empty.wav", np.zeros(0, dtype=np.float32), 16_000)
    for name, pattern in [("corrupt.wav", "cannot decode"), ("nan.wav", "NaN"), ("missing.wav", "not found"),
                          ("empty.wav", "holds no samples")]:
        manifest = load_manifest(write_set(tmp_path, [item_row("z", "audio/speech.wav", f"audio/{name}")]))
        with pytest.raises(AudioError, match=pattern) as info:
            Mixer(manifest).mix(manifest.items[0], 0.0)
        assert name in str(info.value)


def test_stereo_sources_are_averaged_to_mono(tmp_path, small_set):
    left = np.linspace(-0.5, 0.5, 48_000, dtype=np.float32)
    sf.write(tmp_path / "audio" / "stereo.wav", np.stack([left, -left * 0.5], axis=1), 16_000, subtype="FLOAT")
    manifest = load_manifest(write_set(tmp_path, [item_row("st", "audio/speech.wav", "audio/stereo.wav")]))
    mix = Mixer(manifest).mix(manifest.items[0], -math.inf)
    expected = soxr.resample(left * 0.25, 16_000, MIX_RATE, quality="HQ").astype(np.float64)
    np.testing.assert_allclose(mix.waveform, mix.background_gain * expected, atol=1e-6)


def test_joined_utterances_and_background_windows_from_named_roots(tmp_path):
    corpus = tmp_path / "corpus"  # outside the set's folder, reached through the header's roots
    corpus.mkdir()
    rng = np.random.default_rng(3)
    one, two = (0.2 * rng.standard_normal(n).astype(np.float32) for n in (4_410, 8_820))
    long_background = (0.1 * rng.standard_normal(44_100 * 5)).astype(np.float32)
    sf.write(corpus / "u1.wav", one, MIX_RATE, subtype="FLOAT")
    sf.write(corpus / "u2.wav", two, MIX_RATE, subtype="FLOAT")
    sf.write(corpus / "long.wav", long_background, MIX_RATE, subtype="FLOAT")
    row = item_row("j", ["c:u1.wav", "c:u2.wav"], "c:long.wav", onset=0.1)
    row["speech"]["gap"] = 0.5
    row["background"].update(start=1.0, duration=2.0)
    manifest = load_manifest(write_set(tmp_path / "set", [row], header={"roots": {"c": "../corpus"}}), allow_roots=True)
    mixer = Mixer(manifest)
    item = manifest.items[0]
    joined = np.concatenate([one, np.zeros(22_050, dtype=np.float32), two])
    window = long_background[44_100:3 * 44_100]
    speech_only = mixer.mix(item, math.inf).waveform
    gain = mixer.mix(item, math.inf).speech_gain
    np.testing.assert_allclose(speech_only[4_410:4_410 + joined.size], gain * joined, rtol=1e-6, atol=1e-9)
    assert not speech_only[:4_410].any() and not speech_only[4_410 + joined.size:].any()
    background_only = mixer.mix(item, -math.inf)
    np.testing.assert_allclose(background_only.waveform, background_only.background_gain * window, rtol=1e-6, atol=1e-9)
    assert item.to_json()["speech"]["path"] == ["c:u1.wav", "c:u2.wav"]


def test_named_roots_do_not_allow_escapes(tmp_path):
    (tmp_path / "corpus").mkdir()
    row = item_row("e", "c:../../etc/passwd", "c:bg.wav")
    with pytest.raises(ManifestError, match="escapes the data root"):
        load_manifest(write_set(tmp_path / "set", [row], header={"roots": {"c": "../corpus"}}), allow_roots=True)


def test_a_window_past_the_end_of_the_file_is_an_error(tmp_path, small_set):
    row = item_row("w", "audio/speech.wav", "audio/bg.wav")
    row["background"].update(start=2.0, duration=2.0)
    manifest = load_manifest(write_set(tmp_path, [row]))
    with pytest.raises(AudioError, match="runs past the end"):
        Mixer(manifest).mix(manifest.items[0], 0.0)


def test_silent_speech_cannot_set_an_snr(tmp_path, small_set):
    sf.write(tmp_path / "audio" / "mute.wav", np.zeros(22_050, dtype=np.float32), 22_050)
    manifest = load_manifest(write_set(tmp_path, [item_row("m", "audio/mute.wav", "audio/bg.wav")]))
    with pytest.raises(AudioError, match="m: speech audio/mute.wav is silent"):
        Mixer(manifest).mix(manifest.items[0], 5.0)


def test_rendered_files_keep_each_source_at_one_level_across_conditions(tmp_path):
    """Demo mixtures written as 16-bit WAVs: the background outside the speech span is as loud at -10 dB as alone,
    the speech as loud at +10 dB as alone (within 1 dB), and the SNR realised in the files is exact."""
    from sseu_harness.dataset.materialize import materialize

    manifest = load_manifest(DEMO)
    snrs = [math.inf, 10.0, -10.0, -math.inf]
    materialize(manifest, tmp_path, snrs, progress=False)
    mixer = Mixer(manifest)
    level = lambda x: 10 * math.log10(np.mean(np.square(x, dtype=np.float64)))  # noqa: E731
    for item in manifest.items:
        rendered = {label: sf.read(tmp_path / label / f"{item.id}.wav", dtype="float64")[0]
                    for label in ("snr_pinf", "snr_p10", "snr_m10", "snr_minf")}
        speech, background = mixer.sources(item)
        start = int(round(item.speech.onset * MIX_RATE))
        end = start + speech.size
        outside = np.r_[0:start, end:background.size]
        assert abs(level(rendered["snr_m10"][outside]) - level(rendered["snr_minf"][outside])) < 1.0, item.id
        # each file's gains, fitted by least squares on the sources: no use of the mixer's own gains
        sources = np.stack([speech.astype(np.float64), background[start:end].astype(np.float64)], axis=1)
        gains = {label: np.linalg.lstsq(sources, wave[start:end], rcond=None)[0] for label, wave in rendered.items()}
        speech_at = {label: level(g[0] * sources[:, 0]) for label, g in gains.items()}
        assert abs(speech_at["snr_p10"] - speech_at["snr_pinf"]) < 1.0, item.id
        for label, db in (("snr_p10", 10.0), ("snr_m10", -10.0)):
            realised = speech_at[label] - level(gains[label][1] * sources[:, 1])
            assert realised == pytest.approx(db, abs=0.01), item.id
