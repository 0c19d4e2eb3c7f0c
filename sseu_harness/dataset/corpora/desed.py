"""DESED real: 10 s AudioSet clips ``Y<ytid>_<start>_<end>.wav`` with strong
labels in TSV files headed ``filename onset offset event_label`` (seconds).

The reader finds every strong-label TSV under the DESED folder (or the files
named with ``--desed-tsv``), keeps the rows of real clips (file names of the
AudioSet pattern; synthetic soundscapes such as ``0.wav`` are ignored) and
finds each clip's audio by file name anywhere under the folder. A clip listed
in several TSVs takes its labels from the first TSV in path order.

Source labels go through the taxonomy: speech-like ones are dropped from the
events (and kept as the clip's ``speech``, so the build can mark or leave out
backgrounds with a talker), the rest must map onto a taxonomy class (or be listed as ignored in
``build_defaults.toml``); any other label stops the build with the file, the
line and the fix. A clip whose audio is missing, or left with no event, is
skipped and counted.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sseu_harness.dataset.corpora import AudioInfo, Findings, probe, require_dir
from sseu_harness.dataset.manifest import Event
from sseu_harness.errors import ConfigError
from sseu_harness.spec.taxonomy import Taxonomy

HEADER = ["filename", "onset", "offset", "event_label"]
REAL_NAME = re.compile(r"^Y[\w-]{11}_\d+(?:\.\d+)?_\d+(?:\.\d+)?\.wav$")
EXPECT = "the DESED strong-label TSVs (header 'filename onset offset event_label') and the real clips' audio"


@dataclass(frozen=True)
class Clip:
    filename: str
    relative: str  # audio path relative to the DESED root
    events: tuple[Event, ...]  # taxonomy ids, seconds in the clip
    tsv: Path
    speech: tuple[str, ...] = ()  # speech-like source labels annotated in the clip (sorted, distinct)


class DESED:
    def __init__(self, root: Path, taxonomy: Taxonomy, findings: Findings, settings: dict,
                 tsvs: list[Path] | None = None, min_rate: int = 16000, silence_peak: float = 1e-4) -> None:
        self.root = require_dir(root, "--desed", EXPECT)
        self.taxonomy = taxonomy
        self.findings = findings
        self.rates = list(settings.get("rates", [44100]))
        self.channels = list(settings.get("channels", [1]))
        self.overhang = float(settings.get("overhang", 0.5))
        self.ignored = {label.strip().lower() for label in settings.get("ignored_labels", [])}
        self.min_rate = min_rate
        self.silence_peak = silence_peak
        self.tsvs = [Path(t) for t in tsvs] if tsvs else self._find_tsvs()
        self.dropped: Counter[str] = Counter()  # speech-like / ignored source labels -> rows
        self.used_tsvs: list[Path] = []  # the TSVs that listed real clips

    def _find_tsvs(self) -> list[Path]:
        found = [p for p in sorted(self.root.rglob("*.tsv")) if _header(p) == HEADER]
        if not found:
            raise ConfigError(
                f"--desed {self.root}: no strong-label TSV (a .tsv headed 'filename onset offset event_label') "
                "under it; pass the DESED folder that holds metadata/ and audio/, or name the file with --desed-tsv"
            )
        return found

    def clips(self) -> list[Clip]:
        """Every real clip with audio, its events mapped onto the taxonomy (possibly none)."""
        rows: dict[str, tuple[Path, list[tuple[int, str, float, float]]]] = {}
        contributing = []
        for tsv in self.tsvs:
            table = self._read_tsv(tsv)
            if table:
                contributing.append(tsv)
            for filename, entries in table.items():
                if filename in rows:
                    self.findings.note("duplicate_clip", f"{tsv}: {filename} is also in {rows[filename][0]}; its labels come from there")
                    continue
                rows[filename] = (tsv, entries)
        self.used_tsvs = contributing
        if not rows:
            raise ConfigError(
                f"--desed {self.root}: the strong-label TSVs ({', '.join(str(t) for t in self.tsvs)}) list no real clip "
                "(Y<ytid>_<start>_<end>.wav); pass the TSV of DESED's real validation or evaluation set"
            )
        audio = self._index_audio()
        clips: list[Clip] = []
        for filename in sorted(rows):
            tsv, entries = rows[filename]
            path = self._pick(audio.get(filename, []), tsv)
            if path is None:
                self.findings.skip("missing_audio", f"{tsv}: {filename} has no audio file under {self.root}; "
                                   "download the missing DESED clips (or ignore: it is skipped)")
                continue
            events = []
            speech = sorted({label for _, label, _, _ in entries if self.taxonomy.is_speech_like(label)})
            for line, label, onset, offset in entries:
                event_id = self._map(tsv, line, label)
                if event_id is None:
                    continue
                if offset <= onset:
                    self.findings.note("zero_length_event", f"{tsv}:{line}: {label} from {onset} to {offset} s has no length; dropped")
                    continue
                events.append(Event(event_id, onset, offset))
            clips.append(Clip(filename, path.relative_to(self.root).as_posix(), tuple(events), tsv, tuple(speech)))
        if not clips:
            raise ConfigError(
                f"--desed {self.root}: none of the {len(rows)} clips in the TSVs has its audio under this folder; "
                "pass the DESED folder that holds audio/ as well as metadata/"
            )
        return clips

    def check(self, clip: Clip) -> tuple[AudioInfo | None, tuple[Event, ...]]:
        """Probe and decode a clip; cut events that overhang its end a little, skip it if they run further."""
        info, _ = probe(self.root / clip.relative, self.findings, "DESED", self.rates, self.channels,
                        self.min_rate, self.silence_peak)
        if info is None:
            return None, ()
        duration = info.duration
        events = []
        for event in clip.events:
            if event.onset >= duration or event.offset > duration + self.overhang:
                self.findings.skip(
                    "annotation_past_audio",
                    f"{clip.tsv}: {clip.filename} has {event.label} at {event.onset}-{event.offset} s but its audio "
                    f"{self.root / clip.relative} lasts {duration:.2f} s; re-download the clip or fix the TSV",
                )
                return None, ()
            if event.offset > duration:
                self.findings.note("event_cut_at_clip_end",
                                   f"{clip.tsv}: {clip.filename} {event.label} ends at {event.offset} s, cut to {duration:.3f} s")
                event = Event(event.label, event.onset, round(duration, 3))
            events.append(event)
        return info, tuple(events)

    def _map(self, tsv: Path, line: int, label: str) -> str | None:
        if self.taxonomy.is_speech_like(label):
            self.dropped[f"{label} (speech-like)"] += 1
            return None
        if label.strip().lower() in self.ignored:
            self.dropped[f"{label} (not among the 18 classes)"] += 1
            return None
        event_id = self.taxonomy.event_for(label)
        if event_id is None:
            raise ConfigError(
                f"{tsv}:{line}: event label {label!r} is not in the taxonomy; add it to a class's aliases in "
                "sseu_harness/data/taxonomy.toml (or to [desed] ignored_labels in sseu_harness/data/build_defaults.toml). "
                f"Known classes: {', '.join(self.taxonomy.event_ids)}"
            )
        return event_id

    def _read_tsv(self, tsv: Path) -> dict[str, list[tuple[int, str, float, float]]]:
        if not tsv.is_file():
            raise ConfigError(f"--desed-tsv {tsv}: no such file")
        if _header(tsv) != HEADER:
            raise ConfigError(f"{tsv}:1: header is not 'filename onset offset event_label' (tab-separated); "
                              "pass a DESED strong-label TSV")
        out: dict[str, list[tuple[int, str, float, float]]] = {}
        ignored = 0
        with tsv.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter="\t")
            next(reader)
            for line, row in enumerate(reader, start=2):
                if not row or not any(cell.strip() for cell in row):
                    continue
                row = [cell.strip() for cell in row] + [""] * (4 - len(row))
                filename, onset, offset, label = row[:4]
                if not filename:
                    raise ConfigError(f"{tsv}:{line}: empty filename; each row is 'filename<TAB>onset<TAB>offset<TAB>event_label'")
                if not REAL_NAME.match(filename):
                    ignored += 1
                    continue
                entries = out.setdefault(filename, [])
                if not label and not onset and not offset:
                    continue  # a clip listed without events
                try:
                    start, end = float(onset), float(offset)
                except ValueError:
                    raise ConfigError(f"{tsv}:{line}: onset {onset!r} / offset {offset!r} are not numbers of seconds; "
                                      "fix the row") from None
                if not label:
                    raise ConfigError(f"{tsv}:{line}: {filename} has times but no event_label; fix the row")
                if start < 0 or end < start:
                    raise ConfigError(f"{tsv}:{line}: {label} has onset {start} / offset {end}; need 0 <= onset <= offset")
                entries.append((line, label, start, end))
        if ignored:
            self.findings.note("non_real_rows", f"{tsv}: {ignored} rows name files that are not real AudioSet clips "
                               "(synthetic soundscapes?); ignored", count=ignored)
        return out

    def _index_audio(self) -> dict[str, list[Path]]:
        index: dict[str, list[Path]] = {}
        for path in sorted(self.root.rglob("Y*.wav")):
            index.setdefault(path.name, []).append(path)
        return index

    def _pick(self, candidates: list[Path], tsv: Path) -> Path | None:
        """Of several files with the clip's name, the one whose folders share most names with the TSV's path."""
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        try:
            hints = set(tsv.resolve().relative_to(self.root).with_suffix("").parts)
        except ValueError:
            hints = {tsv.stem, tsv.parent.name}
        return max(candidates, key=lambda p: (len(hints & set(p.relative_to(self.root).parts[:-1])), -candidates.index(p)))


def _header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except OSError:
        return []
    return [cell.strip().lower() for cell in first.rstrip("\r\n").split("\t")]
