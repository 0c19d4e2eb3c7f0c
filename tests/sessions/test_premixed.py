"""Pre-mixed sets: items that exist only at the SNRs of their mixture files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.dataset.mixer import Mixer
from sseu_harness.errors import ManifestError
from tests.helpers.session_runner import run_pytest, summary
from tests.helpers.sets import write_set

SCENES_EVENTS = [("home", "dog"), ("city_center", "car"), ("metro_station", "metro_leaving")]


def _premixed_set(root):
    rng = np.random.default_rng(1)
    rows = []
    for k, (scene, event) in enumerate(SCENES_EVENTS):
        files = {}
        for label in ("snr_p3", "snr_m2_5"):
            name = f"mix/{k}_{label}.wav"
            (root / "mix").mkdir(parents=True, exist_ok=True)
            sf.write(root / name, (0.1 * rng.standard_normal(32_000)).astype(np.float32), 32_000)
            files[label if k else label.replace("snr_p3", "3")] = name  # keys may be dB values too
        rows.append({"id": f"pm{k}", "speech": {"transcript": f"sentence number {k}"},
                     "background": {"scene": scene, "events": [{"label": event, "onset": 0.0, "offset": 1.0}]},
                     "premixed": files})
    return write_set(root, rows)


def test_premixed_items_read_their_files_at_the_model_rate(tmp_path):
    manifest = load_manifest(_premixed_set(tmp_path))
    item = manifest.items[0]
    assert item.premixed == {"snr_p3": "mix/0_snr_p3.wav", "snr_m2_5": "mix/0_snr_m2_5.wav"}
    wave = Mixer(manifest).waveform(item, 3.0, 16_000)
    assert wave.size == 16_000
    with pytest.raises(ManifestError, match="no pre-mixed file for snr_0"):
        Mixer(manifest).waveform(item, 0.0, 16_000)


def test_premixed_paths_may_not_escape(tmp_path):
    path = _premixed_set(tmp_path)
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    row["premixed"]["snr_p3"] = "../outside.wav"
    path.write_text("\n".join([lines[0], json.dumps(row)]) + "\n")
    with pytest.raises(ManifestError, match="escapes the data root"):
        load_manifest(path)


def test_a_premixed_set_runs_through_the_same_cases(tmp_path):
    data = tmp_path / "set"
    _premixed_set(data)
    proc = run_pytest("--sseu-model=oracle", f"--sseu-data={data}", f"--sseu-report-dir={tmp_path / 'r'}",
                      "--sseu-modes=independent")
    assert proc.returncode == 0, proc.stdout[-2000:]
    records = summary(tmp_path / "r")["records"]
    cases = {(r["task"], r["snr"]) for r in records if "case" in r}
    assert cases == {(t, s) for t in ("ASR", "ASC", "AT") for s in ("snr_p3", "snr_m2_5")}
    assert all(r["value"] == {"WER": 0.0, "mACC": 100.0, "mAP": 100.0}[r["metric"]] for r in records)
