"""Small fixture corpora in the exact on-disk layouts of VCTK 0.92, DESED (real) and MAESTRO-Real.

The audio is generated with numpy or taken from the repository (no apt package needed at test time):

- VCTK: real English sentences spoken by espeak-ng (the demo set's committed
  FLAC files and transcripts, so no espeak-ng is needed at test time),
  resampled to 48 kHz mono FLAC, ``mic1`` and ``mic2``, with one-line
  transcripts; speaker p315 has audio but no transcripts (as in the release),
  one utterance lacks its transcript and one transcript its audio.
- DESED: 10 s clips ``Y<ytid>_<start>_<end>.wav`` at 44.1 kHz (a noise bed plus
  a tone burst where each event is), the strong-label TSV
  ``metadata/validation/validation.tsv`` with the real header, a clip with only
  ``Speech`` and a weak TSV and a synthetic TSV that must be ignored.
- MAESTRO-Real: ``development_audio/<scene>/<scene>_NN.wav`` (44.1 kHz, 40-60
  s) and ``development_annotation/soft_labels_<scene>/<scene>_NN.txt`` (no
  header, tab-separated ``onset offset label confidence`` per 1 s segment, the
  real label spellings, some confidences below 0.5, speech-like and
  non-benchmark classes mixed in; grocery_store_01 has a 10-20 s window with
  no benchmark event).

Everything is seeded: the same call writes the same files.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sseu_harness.dataset.manifest import load_manifest


@dataclass(frozen=True)
class Corpora:
    vctk: Path
    desed: Path
    maestro: Path


def noise_bed(rng: np.random.Generator, n: int, level: float = 0.02) -> np.ndarray:
    white = rng.standard_normal(n)
    total = np.concatenate([[0.0], np.cumsum(white)])
    low = (total[64:] - total[:-64])[: n]  # a 64-sample moving sum: a rumble under the hiss
    low = np.concatenate([low, np.zeros(n - low.size)])
    bed = white + low / (np.std(low) + 1e-12)
    return level * bed / 2


def burst(rng: np.random.Generator, n: int, rate: int, freq: float, level: float) -> np.ndarray:
    t = np.arange(n) / rate
    tone = np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(2 * np.pi * 2.01 * freq * t) + 0.3 * rng.standard_normal(n)
    ramp = np.minimum(1, np.minimum(t, t[::-1]) / 0.01)
    return level * tone * ramp


# --------------------------------------------------------------------------- VCTK
def espeak_utterance(index: int, rate: int) -> tuple[np.ndarray, str]:
    """Real speech for the fixture VCTK: the demo set's espeak-ng sentences (committed FLAC), resampled."""
    items = _demo_speech()
    path, transcript = items[index % len(items)]
    wave, native = sf.read(path, dtype="float32")
    wave = soxr.resample(wave, native, rate)
    return (0.5 * wave / np.max(np.abs(wave))).astype(np.float32), transcript  # VCTK-like level, no overshoot


@lru_cache(maxsize=1)
def _demo_speech() -> list[tuple[Path, str]]:
    manifest = load_manifest()
    return [(manifest.resolve(item.speech.path), item.speech.transcript) for item in manifest.items]


def make_vctk(root: Path, speakers: tuple[str, ...] = ("p225", "p226", "p227", "p228", "p229", "p232"),
              utterances: int = 8, rate: int = 48_000, seed: int = 1) -> Path:
    audio, text = root / "wav48_silence_trimmed", root / "txt"
    for k, speaker in enumerate((*speakers, "p315")):
        rng = np.random.default_rng([seed, k])
        (audio / speaker).mkdir(parents=True, exist_ok=True)
        for u in range(1, utterances + 1):
            utt = f"{speaker}_{u:03d}"
            wave, transcript = espeak_utterance(k * utterances + u, rate)
            sf.write(audio / speaker / f"{utt}_mic1.flac", wave, rate, subtype="PCM_16")
            mic2 = 0.7 * wave + 0.002 * rng.standard_normal(wave.size).astype(np.float32)
            sf.write(audio / speaker / f"{utt}_mic2.flac", mic2, rate, subtype="PCM_16")
            if speaker != "p315":
                (text / speaker).mkdir(parents=True, exist_ok=True)
                (text / speaker / f"{utt}.txt").write_text(transcript + "\n")
    first = speakers[0]
    (text / first / f"{first}_{utterances:03d}.txt").unlink()  # audio without transcript
    (text / first / f"{first}_{utterances + 1:03d}.txt").write_text("A transcript without audio.\n")
    (root / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION COMMENTS\n")
    return root


# --------------------------------------------------------------------------- DESED
DESED_CLIPS: list[list[tuple[str, float, float]]] = [
    [("Dog", 0.5, 2.0), ("Speech", 3.0, 6.0), ("Dishes", 6.5, 8.0)],
    [("Alarm_bell_ringing", 1.0, 4.0), ("Cat", 5.0, 6.5)],
    [("Blender", 0.0, 5.5), ("Speech", 6.0, 9.0)],
    [("Vacuum_cleaner", 0.0, 10.0)],
    [("Electric_shaver_toothbrush", 2.0, 7.0), ("Running_water", 7.5, 9.9)],
    [("Frying", 0.0, 10.0), ("Dishes", 2.0, 3.0), ("Dishes", 5.0, 5.6)],
    [("Speech", 0.5, 3.0), ("Speech", 4.0, 9.0)],  # speech only: skipped, counted
    [("Running_water", 1.0, 8.0), ("Dog", 8.2, 9.4)],
    [("Cat", 0.2, 1.4), ("Speech", 2.0, 5.0), ("Alarm_bell_ringing", 6.0, 9.5)],
    [("Dog", 0.0, 1.0), ("Dog", 3.0, 4.2), ("Blender", 5.0, 9.0)],
    [("Dishes", 1.0, 2.5), ("Frying", 3.0, 10.0)],
    [("Electric_shaver_toothbrush", 0.0, 3.0), ("Vacuum_cleaner", 4.0, 10.0), ("Speech", 1.0, 2.0)],
]


def desed_name(k: int) -> str:
    ytid = f"{k:02d}abcDEF-{k:01d}"[:11].ljust(11, "x")
    start = 10 * k + 30
    return f"Y{ytid}_{start}.000_{start + 10}.000.wav"


def make_desed(root: Path, clips: list[list[tuple[str, float, float]]] | None = None, rate: int = 44_100,
               seconds: float = 10.0, seed: int = 2) -> Path:
    clips = DESED_CLIPS if clips is None else clips
    audio, meta = root / "audio" / "validation", root / "metadata" / "validation"
    audio.mkdir(parents=True, exist_ok=True)
    meta.mkdir(parents=True, exist_ok=True)
    rows = ["filename\tonset\toffset\tevent_label"]
    for k, events in enumerate(clips):
        rng = np.random.default_rng([seed, k])
        n = int(seconds * rate)
        wave = noise_bed(rng, n)
        for label, onset, offset in events:
            a, b = int(onset * rate), min(n, int(offset * rate))
            wave[a:b] += burst(rng, b - a, rate, 300 + 97 * (zlib.crc32(label.encode()) % 13), 0.1)
            rows.append(f"{desed_name(k)}\t{onset:.3f}\t{offset:.3f}\t{label}")
        sf.write(audio / desed_name(k), wave.astype(np.float32), rate, subtype="PCM_16")
    (meta / "validation.tsv").write_text("\n".join(rows) + "\n")
    (meta / "validation_durations.tsv").write_text("filename\tduration\n" + "".join(
        f"{desed_name(k)}\t{seconds}\n" for k in range(len(clips))))
    train = root / "metadata" / "train"
    (train / "synthetic21_train").mkdir(parents=True, exist_ok=True)
    (train / "weak.tsv").write_text("filename\tevent_labels\nYxxxxxxxxxxx_0.000_10.000.wav\tDog,Cat\n")
    (train / "synthetic21_train" / "soundscapes.tsv").write_text(
        "filename\tonset\toffset\tevent_label\n0.wav\t0.0\t1.0\tDog\n1.wav\t2.0\t3.0\tSpeech\n")
    return root


# --------------------------------------------------------------------------- MAESTRO-Real
MAESTRO_LABELS = {
    "cafe_restaurant": ["cutlery and dishes", "footsteps", "people talking", "coffee machine", "furniture dragging"],
    "city_center": ["car", "footsteps", "large_vehicle", "brakes_squeaking", "birds_singing", "people talking"],
    "grocery_store": ["footsteps", "shopping cart", "cash register beeping", "people talking", "children voices",
                      "announcement"],
    "metro_station": ["metro approaching", "metro leaving", "footsteps", "announcement", "people talking"],
    "residential_area": ["birds_singing", "wind_blowing", "car", "footsteps", "door opens/closes"],
}
MAESTRO_SECONDS = {"cafe_restaurant": (42, 55), "city_center": (48, 41), "grocery_store": (53, 46),
                   "metro_station": (44, 60), "residential_area": (51, 45)}


def soft_labels(rng: np.random.Generator, labels: list[str], seconds: int) -> list[tuple[int, int, str, float]]:
    """Per 1 s segment and label: activity in runs, confidences >= 0.5 when active, some soft ones below."""
    lines = []
    for label in labels:
        active = np.zeros(seconds, dtype=bool)
        t = int(rng.integers(0, 6))
        while t < seconds:
            run = int(rng.integers(2, 7))
            active[t:t + run] = True
            t += run + int(rng.integers(3, 12))
        for s in range(seconds):
            if active[s]:
                lines.append((s, s + 1, label, round(float(rng.uniform(0.5, 1.0)), 3)))
            elif rng.random() < 0.3:
                lines.append((s, s + 1, label, round(float(rng.uniform(0.05, 0.45)), 3)))
    return sorted(lines)


def write_soft_labels(path: Path, lines: list[tuple[float, float, str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{on:.1f}\t{off:.1f}\t{label}\t{conf}\n" for on, off, label, conf in lines))


def make_maestro(root: Path, seconds: dict[str, tuple[int, ...]] | None = None, rate: int = 44_100,
                 seed: int = 3, stereo: str = "city_center_02") -> Path:
    seconds = MAESTRO_SECONDS if seconds is None else seconds
    for s_index, (scene, lengths) in enumerate(seconds.items()):
        for r_index, length in enumerate(lengths, start=1):
            stem = f"{scene}_{r_index:02d}"
            rng = np.random.default_rng([seed, s_index, r_index])
            lines = soft_labels(rng, MAESTRO_LABELS[scene], length)
            if stem == "grocery_store_01":  # 10-20 s: only speech-like and non-benchmark classes
                lines = [x for x in lines if not (10 <= x[0] < 20 and x[2] == "footsteps")]
            n = length * rate
            wave = noise_bed(rng, n, 0.03)
            tones = {label: burst(rng, rate, rate, 200 + 61 * i, 0.05) for i, label in enumerate(MAESTRO_LABELS[scene])}
            for on, off, label, conf in lines:
                if conf >= 0.5:  # one 1 s segment
                    a = int(on * rate)
                    wave[a:a + rate] += conf * tones[label]
            folder = root / "development_audio" / scene
            folder.mkdir(parents=True, exist_ok=True)
            data = np.stack([wave, 0.9 * wave], axis=1) if stem == stereo else wave
            sf.write(folder / f"{stem}.wav", data.astype(np.float32), rate, subtype="PCM_16")
            write_soft_labels(root / "development_annotation" / f"soft_labels_{scene}" / f"{stem}.txt", lines)
    return root


def make_corpora(root: Path, small: bool = False) -> Corpora:
    """All three corpora under root; `small` keeps them tiny for the tests of bad input."""
    if small:
        return Corpora(
            make_vctk(root / "VCTK-Corpus-0.92", speakers=("p225", "p226", "p227"), utterances=6),
            make_desed(root / "DESED", clips=DESED_CLIPS[:4]),
            make_maestro(root / "MAESTRO-Real", seconds={s: (21,) for s in MAESTRO_SECONDS}, stereo=""),
        )
    return Corpora(make_vctk(root / "VCTK-Corpus-0.92"), make_desed(root / "DESED"), make_maestro(root / "MAESTRO-Real"))


if __name__ == "__main__":  # `python -m tests.helpers.corpus_fixtures DIR`: the fixture corpora, for the docs' build example
    import sys

    print(make_corpora(Path(sys.argv[1])))
