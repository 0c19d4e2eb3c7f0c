"""Shared fixtures: small real audio files and manifests written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers.sets import item_row, write_set


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    """One item: 1 s of voiced-like speech at 22.05 kHz over 3 s of noise at 16 kHz."""
    rng = np.random.default_rng(7)
    t = np.arange(22_050) / 22_050
    speech = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    background = (0.1 * rng.standard_normal(48_000)).astype(np.float32)
    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "speech.wav", speech, 22_050, subtype="FLOAT")
    sf.write(tmp_path / "audio" / "bg.wav", background, 16_000, subtype="FLOAT")
    return write_set(tmp_path, [item_row("a", "audio/speech.wav", "audio/bg.wav", onset=0.75)])


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory):
    """(report dir, session) of the demo set answered by a model that fails, injects HTML and errs."""
    from tests.helpers.reports import hostile_report as make

    return make(tmp_path_factory.mktemp("hostile"))
