"""The built-in demo set (sseu_harness/data/demo/, made by scripts/make_demo_data.py).

Fast and self-contained: needs only numpy and soundfile, not espeak-ng.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sseu_harness.dataset.manifest import DEMO_DIR, load_manifest
from sseu_harness.spec.taxonomy import load_taxonomy

SPEECH_SR = 22050  # espeak-ng's native rate (docs/benchmark.md)
BACKGROUND_SR = 16000
BACKGROUND_SECONDS = 8.0
MIN_ITEMS_PER_SCENE = 4


@lru_cache(maxsize=1)
def manifest():
    return load_manifest()


@lru_cache(maxsize=None)
def audio(relative: str) -> tuple[np.ndarray, int]:
    data, sr = sf.read(manifest().resolve(relative), dtype="float64", always_2d=True)
    assert data.shape[1] == 1, f"{relative} has {data.shape[1]} channels, expected mono"
    return data[:, 0], sr


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def sha256sums() -> dict[str, str]:
    sums = {}
    for line in (DEMO_DIR / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    return sums


def test_sha256sums_match_every_audio_file():
    sums = sha256sums()
    on_disk = sorted(p.relative_to(DEMO_DIR).as_posix() for p in DEMO_DIR.glob("*/*.flac"))
    assert sorted(sums) == on_disk, "SHA256SUMS must list exactly the audio files of the demo set"
    for name, digest in sums.items():
        assert hashlib.sha256((DEMO_DIR / name).read_bytes()).hexdigest() == digest, f"{name} changed"


def test_manifest_references_exactly_the_checksummed_audio():
    referenced = {p for it in manifest().items for p in (it.speech.path, it.background.path)}
    assert referenced == set(sha256sums())


def test_header():
    header = manifest().header
    assert header["name"] == "sseu-demo"
    assert header["generator"] == "scripts/make_demo_data.py"
    assert isinstance(header["seed"], int)


def test_scenes_and_event_coverage():
    taxonomy = load_taxonomy()
    items = manifest().items
    assert len(items) >= 24
    per_scene = {s: sum(it.background.scene == s for it in items) for s in taxonomy.scene_ids}
    assert all(n >= MIN_ITEMS_PER_SCENE for n in per_scene.values()), per_scene
    assert all(it.background.source == "demo" for it in items)
    labels = [set(it.background.event_labels) for it in items]
    assert set().union(*labels) == set(taxonomy.event_ids)
    for event in taxonomy.event_ids:
        clips = sum(event in ls for ls in labels)
        assert 1 <= clips < len(items), f"{event} is in {clips} of {len(items)} clips"
    assert all(1 <= len(it.background.events) <= 4 for it in items)


@pytest.mark.parametrize("kind", ["speech", "background"])
def test_audio_format(kind):
    for it in manifest().items:
        path = it.speech.path if kind == "speech" else it.background.path
        x, sr = audio(path)
        info = sf.info(manifest().resolve(path))
        assert info.format == "FLAC" and info.subtype == "PCM_16", (path, info.format, info.subtype)
        if kind == "speech":
            assert sr == SPEECH_SR, path
            assert 0 < len(x) / sr < 6.5, path
            assert rms(x) > 0.01, f"{path} is (nearly) silent"
        else:
            assert sr == BACKGROUND_SR, path
            assert len(x) == int(BACKGROUND_SECONDS * sr), path
            assert 0.45 <= np.max(np.abs(x)) <= 0.5 + 1e-4, f"{path} is not peak-normalised to 0.5"


def test_timing_fits_inside_background():
    for it in manifest().items:
        bg, bg_sr = audio(it.background.path)
        duration = len(bg) / bg_sr
        for e in it.background.events:
            assert 0 <= e.onset < e.offset <= duration, (it.id, e)
        speech, sp_sr = audio(it.speech.path)
        assert it.speech.onset >= 0.5, it.id
        assert it.speech.onset + len(speech) / sp_sr <= duration, it.id


def test_event_timestamps_are_where_the_sound_is():
    for it in manifest().items:
        x, sr = audio(it.background.path)
        mask = np.zeros(len(x), dtype=bool)
        for e in it.background.events:
            mask[round(e.onset * sr) : round(e.offset * sr)] = True
        assert (~mask).sum() >= sr, f"{it.id}: under 1 s outside all events"
        quiet = rms(x[~mask])
        assert rms(x[mask]) > 2 * quiet, it.id
        for e in it.background.events:
            span = x[round(e.onset * sr) : round(e.offset * sr)]
            assert rms(span) > 2 * quiet, (it.id, e)
        # the ambient bed keeps every 2 s window audible
        for start in range(0, len(x) - 2 * sr + 1, sr // 2):
            assert rms(x[start : start + 2 * sr]) > 10 ** (-50 / 20), (it.id, start / sr)


def test_transcripts_are_unique_english_sentences():
    transcripts = [it.speech.transcript for it in manifest().items]
    assert len(set(transcripts)) == len(transcripts)
    for text in transcripts:
        assert re.fullmatch(r"[A-Z][A-Za-z' ,;-]*[a-z][.?!]", text), text
        assert len(text.split()) >= 4, text
    assert all(it.speech.speaker for it in manifest().items)
    assert len({it.speech.speaker for it in manifest().items}) >= 4


def test_folder_is_small():
    size = sum(p.stat().st_size for p in Path(DEMO_DIR).rglob("*") if p.is_file())
    assert size < 10 * 1024 * 1024, f"demo set is {size / 1e6:.1f} MB"
