"""A full-size synthetic SSEU-Bench for the speed benchmarks: the shape of the real thing, not its sound.

1,117 ten-second backgrounds at 44.1 kHz (16-bit WAV, as DESED and MAESTRO
windows are read), each with one to three of the 18 event classes, spread
over the 6 scenes; speech as two utterances of one of 200 synthetic
"speakers" at 48 kHz (as VCTK), joined by the mixer, about 8 s per mixture.
The set is written once per folder and reused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from sseu_harness.dataset.manifest import Background, Event, Item, Speech, iter_manifest_lines
from sseu_harness.spec.taxonomy import load_taxonomy

BACKGROUND_RATE, SPEECH_RATE = 44_100, 48_000
WORDS = "the a birch canoe slid on smooth planks glue sheet to dark blue background it is easy tell depth of well".split()


def build(root: Path, items: int = 1117, utterances: int = 200, seed: int = 0) -> Path:
    """The manifest of a set of `items` mixtures under `root` (made once, then reused)."""
    manifest = root / "manifest.jsonl"
    stamp = {"items": items, "utterances": utterances, "seed": seed}
    if manifest.exists() and json.loads(manifest.read_text().splitlines()[0]).get("synthetic") == stamp:
        return manifest
    rng = np.random.default_rng(seed)
    taxonomy = load_taxonomy()
    (root / "speech").mkdir(parents=True, exist_ok=True)
    (root / "bg").mkdir(parents=True, exist_ok=True)
    utter = []
    for k in range(utterances):
        seconds = rng.uniform(3.2, 4.4)
        t = np.arange(int(seconds * SPEECH_RATE)) / SPEECH_RATE
        f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
        voice = sum(np.sin(2 * np.pi * h * np.cumsum(f0) / SPEECH_RATE) / h for h in range(1, 8))
        envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
        wave = (0.08 * voice * envelope).astype(np.float32)
        sf.write(root / "speech" / f"u{k:03d}.wav", wave, SPEECH_RATE, subtype="PCM_16")
        utter.append((f"speech/u{k:03d}.wav", seconds, " ".join(rng.choice(WORDS, size=int(seconds * 2.5)))))
    rows = []
    for k in range(items):
        scene = taxonomy.scenes[k % len(taxonomy.scenes)].id
        events = []
        for label in rng.choice(taxonomy.event_ids, size=int(rng.integers(1, 4)), replace=False):
            onset = float(rng.uniform(0, 8))
            events.append(Event(str(label), round(onset, 3), round(onset + float(rng.uniform(0.5, 2)), 3)))
        path = f"bg/b{k:04d}.wav"
        if not (root / path).exists():
            bed = rng.standard_normal(10 * BACKGROUND_RATE) * 0.05
            for event in events:
                a, b = int(event.onset * BACKGROUND_RATE), int(event.offset * BACKGROUND_RATE)
                bed[a:b] += 0.2 * np.sin(2 * np.pi * rng.uniform(200, 3000) * np.arange(b - a) / BACKGROUND_RATE)
            sf.write(root / path, bed.astype(np.float32), BACKGROUND_RATE, subtype="PCM_16")
        first, second = rng.choice(len(utter), size=2, replace=False)
        speech_seconds = utter[first][1] + utter[second][1] + 0.25
        onset = round(float(rng.uniform(0.25, 10 - speech_seconds - 0.25)), 3)
        rows.append(Item(
            f"syn-{k:04d}",
            Speech((utter[first][0], utter[second][0]), f"{utter[first][2]} {utter[second][2]}", f"spk{first % 40}", onset),
            Background(path, "synthetic", scene, tuple(sorted(events, key=lambda e: e.onset))),
        ))
    header = {"name": f"synthetic-{items}", "synthetic": stamp}
    manifest.write_text("\n".join(iter_manifest_lines(header, rows)) + "\n")
    return manifest


def scaled(manifest: Path, factor: int, out: Path) -> Path:
    """The same set with every item repeated `factor` times under new ids (the same audio files, linked)."""
    lines = manifest.read_text().splitlines()
    header = json.loads(lines[0])
    header["name"] = f"{header['name']}-x{factor}"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for copy in range(factor):
        for line in lines[1:]:
            row = json.loads(line)
            row["id"] = f"{row['id']}-c{copy}"
            rows.append(json.dumps(row, sort_keys=True))
    for folder in ("speech", "bg"):
        link_folder(manifest.parent / folder, out / folder)
    (out / "manifest.jsonl").write_text("\n".join([json.dumps(header, sort_keys=True), *rows]) + "\n")
    return out / "manifest.jsonl"


def link_folder(source: Path, target: Path) -> None:
    """`source`'s files in `target` as hard links (copies across file systems): a set must hold its audio,
    since roots outside its folder need --sseu-allow-roots and symlinks out are escapes."""
    for path in source.rglob("*"):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                try:
                    os.link(path, dest)
                except OSError:
                    shutil.copy2(path, dest)
