"""MAESTRO-Real development set (Zenodo 7244360).

Layout: ``development_audio/<scene>/<scene>_NN.wav`` (44.1 kHz recordings of
3-5 min) and ``development_annotation/soft_labels_<scene>/<scene>_NN.txt``: no
header, tab-separated ``onset offset label confidence`` at 1 s resolution.
Audio and annotation are paired by file stem (never by position), and a pair
whose annotation runs more than ``annotation_tolerance`` past the audio is
refused as mismatched (skipped and reported).

Windows (the backgrounds): ``window`` seconds (10) starting every ``hop``
seconds (10: non-overlapping) from 0, kept inside both the audio and the
annotated span. With the default hop every window covers exactly ten 1 s
annotation segments, so its labels are exact rather than smeared across a
boundary. A window's events: the 1 s segments whose confidence is >=
``threshold`` (0.5, as the DCASE baseline), clipped to the window and merged
where they touch; a class counts as present when its active time inside the
window is at least ``min_event_span`` (1 s, one segment). Speech-like labels
and the MAESTRO classes outside the paper's 18 (``ignored_labels``) are
dropped from the events. Silent windows and windows left with no event are
skipped and counted. A window's speech-like labels present by the same rule
(thresholded, at least ``min_event_span``) are kept apart as its ``speech``:
the build marks such backgrounds and can leave them out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sseu_harness.dataset.corpora import Findings, find_below, probe, require_dir
from sseu_harness.dataset.manifest import Event
from sseu_harness.errors import ConfigError
from sseu_harness.spec.taxonomy import Taxonomy

AUDIO_DIR = "development_audio"
ANNOTATION_DIR = "development_annotation"
EXPECT = f"{AUDIO_DIR}/<scene>/*.wav and {ANNOTATION_DIR}/soft_labels_<scene>/*.txt (MAESTRO-Real development set)"


@dataclass(frozen=True)
class Segment:
    onset: float
    offset: float
    label: str  # taxonomy event id
    confidence: float


@dataclass(frozen=True)
class Recording:
    scene: str  # taxonomy scene id
    stem: str
    relative: str  # audio path relative to the MAESTRO root
    annotation: Path
    segments: tuple[Segment, ...]
    annotated_end: float  # last offset in the annotation file (any label)
    speech: tuple[Segment, ...] = ()  # speech-like segments, labelled with their source label


@dataclass(frozen=True)
class Window:
    recording: Recording
    start: float
    duration: float
    events: tuple[Event, ...]  # relative to the window
    speech: tuple[str, ...] = ()  # speech-like source labels present in the window, by the events' rule

    @property
    def id(self) -> str:
        return f"{self.recording.stem}-{int(round(self.start * 1000)):07d}"


class MAESTRO:
    def __init__(self, root: Path, taxonomy: Taxonomy, findings: Findings, settings: dict,
                 min_rate: int = 16000, silence_peak: float = 1e-4, **overrides: float) -> None:
        self.root = require_dir(root, "--maestro", EXPECT)
        self.taxonomy = taxonomy
        self.findings = findings
        merged = {**settings, **{k: v for k, v in overrides.items() if v is not None}}
        self.rates = list(merged.get("rates", [44100]))
        self.channels = list(merged.get("channels", [1, 2]))
        self.window = float(merged.get("window", 10.0))
        self.hop = float(merged.get("hop", 10.0))
        self.threshold = float(merged.get("threshold", 0.5))
        self.min_event_span = float(merged.get("min_event_span", 1.0))
        self.tolerance = float(merged.get("annotation_tolerance", 1.0))
        self.ignored = {label.strip().lower() for label in merged.get("ignored_labels", [])}
        if self.window <= 0 or self.hop <= 0:
            raise ConfigError(f"MAESTRO window ({self.window} s) and hop ({self.hop} s) must be positive")
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"MAESTRO confidence threshold {self.threshold} must be in (0, 1]")
        if self.min_event_span < 0:
            raise ConfigError(f"--min-event-span {self.min_event_span} must be 0 or more seconds")
        self.min_rate = min_rate
        self.silence_peak = silence_peak
        self.dropped: Counter[str] = Counter()
        self._check_layout()

    @property
    def parameters(self) -> dict:
        return {"window_s": self.window, "hop_s": self.hop, "threshold": self.threshold,
                "min_event_span_s": self.min_event_span}

    def _check_layout(self) -> None:
        for name in (AUDIO_DIR, ANNOTATION_DIR):
            if not (self.root / name).is_dir():
                below = find_below(self.root, name)
                hint = f" (found one under {below}: pass --maestro {below})" if below is not None else ""
                raise ConfigError(f"--maestro {self.root}: no {name}/ folder{hint}; pass the folder that holds {EXPECT}")

    def recordings(self) -> list[Recording]:
        audio_root, ann_root = self.root / AUDIO_DIR, self.root / ANNOTATION_DIR
        recordings: list[Recording] = []
        scene_dirs = sorted(p for p in audio_root.iterdir() if p.is_dir())
        if not scene_dirs:
            raise ConfigError(f"--maestro {self.root}: {audio_root} holds no scene folders; expected {EXPECT}")
        for scene_dir in scene_dirs:
            scene = self.taxonomy.scene_for(scene_dir.name)
            if scene is None:
                raise ConfigError(
                    f"{scene_dir}: scene folder {scene_dir.name!r} is not a taxonomy scene; add it to a scene's aliases "
                    f"in sseu_harness/data/taxonomy.toml or move it out. Known scenes: {', '.join(self.taxonomy.scene_ids)}"
                )
            ann_dir = ann_root / f"soft_labels_{scene_dir.name}"
            audio = {p.stem: p for p in sorted(scene_dir.glob("*.wav"))}
            labels = {p.stem: p for p in sorted(ann_dir.glob("*.txt"))} if ann_dir.is_dir() else {}
            if audio and not ann_dir.is_dir():
                raise ConfigError(f"{ann_dir}: missing; MAESTRO-Real pairs {scene_dir}/*.wav with "
                                  f"{ANNOTATION_DIR}/soft_labels_{scene_dir.name}/*.txt (unzip development_annotation.zip here)")
            for stem in sorted(set(audio) - set(labels)):
                self.findings.skip("missing_annotation", f"{audio[stem]}: no annotation {ann_dir / (stem + '.txt')}; skipped")
            for stem in sorted(set(labels) - set(audio)):
                self.findings.skip("missing_audio", f"{labels[stem]}: no audio {scene_dir / (stem + '.wav')}; skipped")
            for stem in sorted(set(audio) & set(labels)):
                segments, speech, end = self._read_annotation(labels[stem])
                recordings.append(Recording(scene, stem, audio[stem].relative_to(self.root).as_posix(),
                                            labels[stem], segments, end, speech))
        if not recordings:
            raise ConfigError(f"--maestro {self.root}: no recording has both audio and an annotation; expected {EXPECT}")
        return recordings

    def windows(self, recording: Recording) -> list[Window]:
        """The recording's candidate windows with their events; [] when the recording is unusable."""
        info, wave = probe(self.root / recording.relative, self.findings, "MAESTRO-Real", self.rates, self.channels,
                           self.min_rate, self.silence_peak, keep_wave=True)
        if info is None:
            return []
        if recording.annotated_end > info.duration + self.tolerance:
            self.findings.skip(
                "annotation_past_audio",
                f"{recording.annotation}: runs to {recording.annotated_end:g} s but its audio {info.path} lasts "
                f"{info.duration:.1f} s; audio and annotation may be paired wrongly (they pair by file stem) or the "
                "audio is cut short; re-download the pair",
            )
            return []
        usable_end = min(info.duration, recording.annotated_end)
        out: list[Window] = []
        start = 0.0
        while start + self.window <= usable_end + 1e-6:
            first, last = int(round(start * info.rate)), int(round((start + self.window) * info.rate))
            peak = float(np.max(np.abs(wave[first:last]))) if last > first else 0.0
            window_id = f"{recording.stem} at {start:g} s"
            if peak < self.silence_peak:
                self.findings.skip("silent_window", f"{info.path}: the window at {start:g} s is silent; skipped")
            else:
                events = self.window_events(recording.segments, start)
                if events:
                    speech = tuple(sorted({e.label for e in self.window_events(recording.speech, start)}))
                    out.append(Window(recording, round(start, 3), self.window, events, speech))
                else:
                    self.findings.skip("no_event_maestro", f"{window_id}: no non-speech event left; skipped")
            start = round(start + self.hop, 6)
        return out

    def window_events(self, segments: tuple[Segment, ...], start: float) -> tuple[Event, ...]:
        """Events of the window [start, start + window): thresholded, clipped, merged, at least min_event_span long."""
        end = start + self.window
        spans: dict[str, list[tuple[float, float]]] = {}
        for seg in segments:
            if seg.confidence < self.threshold or seg.offset <= start or seg.onset >= end:
                continue
            spans.setdefault(seg.label, []).append((max(seg.onset, start) - start, min(seg.offset, end) - start))
        events: list[Event] = []
        for label in sorted(spans):
            merged: list[list[float]] = []
            for onset, offset in sorted(spans[label]):
                if merged and onset <= merged[-1][1] + 1e-6:
                    merged[-1][1] = max(merged[-1][1], offset)
                else:
                    merged.append([onset, offset])
            if sum(off - on for on, off in merged) + 1e-6 < self.min_event_span:
                continue
            events.extend(Event(label, round(on, 3), round(off, 3)) for on, off in merged)
        return tuple(sorted(events, key=lambda e: (e.onset, e.label)))

    def _read_annotation(self, path: Path) -> tuple[tuple[Segment, ...], tuple[Segment, ...], float]:
        """(event segments, speech-like segments, last offset) of one soft-label file."""
        segments: list[Segment] = []
        speech: list[Segment] = []
        end = 0.0
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the annotation ({exc}); re-download development_annotation.zip") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
            if len(fields) != 4:
                raise ConfigError(f"{path}:{number}: expected 4 tab-separated fields 'onset offset label confidence', "
                                  f"got {len(fields)}; is this a MAESTRO-Real soft-label file?")
            try:
                onset, offset, confidence = float(fields[0]), float(fields[1]), float(fields[3])
            except ValueError:
                if number == 1 and fields[0].lower() == "onset":
                    continue  # tolerate a header line
                raise ConfigError(f"{path}:{number}: onset, offset and confidence must be numbers, got {fields!r}") from None
            if onset < 0 or offset <= onset:
                raise ConfigError(f"{path}:{number}: segment {onset}-{offset} s is empty or negative; fix the line")
            if not 0 <= confidence <= 1:
                raise ConfigError(f"{path}:{number}: confidence {confidence} is outside [0, 1]; fix the line")
            end = max(end, offset)
            label = fields[2]
            if self.taxonomy.is_speech_like(label):
                self.dropped[f"{label} (speech-like)"] += 1
                speech.append(Segment(onset, offset, label, confidence))
                continue
            if label.lower() in self.ignored:
                self.dropped[f"{label} (not among the 18 classes)"] += 1
                continue
            event_id = self.taxonomy.event_for(label)
            if event_id is None:
                raise ConfigError(
                    f"{path}:{number}: event label {label!r} is not in the taxonomy; add it to a class's aliases in "
                    "sseu_harness/data/taxonomy.toml, or to [maestro] ignored_labels in "
                    f"sseu_harness/data/build_defaults.toml. Known classes: {', '.join(self.taxonomy.event_ids)}"
                )
            segments.append(Segment(onset, offset, event_id, confidence))
        if end == 0.0:
            raise ConfigError(f"{path}: the annotation is empty; re-download development_annotation.zip")
        return tuple(segments), tuple(speech), end
