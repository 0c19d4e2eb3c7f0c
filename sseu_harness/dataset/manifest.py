"""The manifest: a versioned JSON Lines file of benchmark items.

Line 1 is a header ``{"schema": "sseu-manifest/1", "name": ..., ...}``; every
further line is one item. Audio paths are relative to the manifest's folder
(the set's data root) and may not escape it.

An item holds either its sources (``speech.path`` and ``background.path``:
mixed on the fly by `mixer.py` at any SNR) or, for imported pre-mixed sets,
``premixed``: a map from SNR label to a mixture file, which makes the item
available at those SNRs only.

Sets built from corpora reference the corpora in place: the header's
``roots`` names folders (``{"vctk": "/data/VCTK-Corpus-0.92"}``) and a path
``vctk:wav48_silence_trimmed/p225/p225_001_mic1.flac`` resolves under the
root it names. ``speech.path`` may be a list of utterances, joined with
``speech.gap`` seconds of silence; ``background.start`` / ``duration`` cut a
window out of a long recording (event times are relative to the window).
``background.speech_labels`` (optional, a list of strings) names the
speech-like labels the background's source annotation carries (DESED
``Speech``; MAESTRO-Real ``people talking``, ``children voices``,
``announcement``): such a background holds a competing talker. Left out when
there are none, or when nothing is known (demo and imported sets).

Every root (symlinks followed) must resolve inside the set's folder unless the caller allows
roots elsewhere (``--sseu-allow-roots``): a manifest alone cannot send the
harness to read ``/`` or a sibling folder.

The file is UTF-8 (a byte-order mark is accepted) and split at line feeds only:
JSON strings may hold U+2028 and other characters `str.splitlines` breaks on.
Every number must be finite (``NaN`` and ``Infinity`` are JSON to Python); the
header's ``snrs`` is a list of labels or dB values, where ``"inf"`` /
``"-inf"`` (or JSON ``Infinity``) are the speech-only and background-only
conditions.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sseu_harness.errors import ConfigError, ManifestError
from sseu_harness.numbers import is_finite_number
from sseu_harness.spec.snr import parse_snr, snr_label
from sseu_harness.spec.taxonomy import Taxonomy, load_taxonomy

SCHEMA = "sseu-manifest/1"
MANIFEST_NAME = "manifest.jsonl"
DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"


@dataclass(frozen=True)
class Event:
    label: str  # taxonomy event id
    onset: float  # seconds from the start of the background
    offset: float


DEFAULT_GAP = 0.25  # seconds of silence between joined utterances


@dataclass(frozen=True)
class Speech:
    path: str | tuple[str, ...] | None  # one file, utterances to join, or None in pre-mixed sets
    transcript: str
    speaker: str
    onset: float  # seconds: where the speech starts inside the background
    gap: float = DEFAULT_GAP

    @property
    def parts(self) -> tuple[str, ...]:
        if self.path is None:
            return ()
        return (self.path,) if isinstance(self.path, str) else self.path


@dataclass(frozen=True)
class Background:
    path: str | None  # None in pre-mixed sets
    source: str  # corpus: "demo", "desed", "maestro-real"
    scene: str  # taxonomy scene id
    events: tuple[Event, ...] = field(default_factory=tuple)
    start: float = 0.0  # seconds into the file where the clip begins
    duration: float | None = None  # seconds; None = to the end of the file
    speech_labels: tuple[str, ...] = ()  # speech-like source labels its annotation carries (e.g. "Speech")

    @property
    def event_labels(self) -> tuple[str, ...]:
        """Distinct event ids present in the clip, in taxonomy-independent sorted order."""
        return tuple(sorted({e.label for e in self.events}))


@dataclass(frozen=True)
class Item:
    id: str
    speech: Speech
    background: Background
    premixed: dict[str, str] | None = None  # SNR label -> mixture file

    @property
    def has_sources(self) -> bool:
        return self.speech.path is not None and self.background.path is not None

    def available_at(self, snr: str) -> bool:
        return self.has_sources or (self.premixed is not None and snr in self.premixed)

    def to_json(self) -> dict:
        """The manifest row; optional fields at their defaults are left out."""
        row = asdict(self)
        if self.premixed is None:
            del row["premixed"]
        if isinstance(self.speech.path, (str, type(None))):
            del row["speech"]["gap"]
        else:
            row["speech"]["path"] = list(self.speech.path)
        if self.background.start == 0.0:
            del row["background"]["start"]
        if self.background.duration is None:
            del row["background"]["duration"]
        if self.background.speech_labels:
            row["background"]["speech_labels"] = list(self.background.speech_labels)
        else:
            del row["background"]["speech_labels"]
        return row

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class Manifest:
    path: Path
    header: dict
    items: tuple[Item, ...]
    sha256: str
    snrs: tuple[str, ...] | None = None  # the header's SNR grid as labels; None = not declared
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # item id -> its line, for messages

    def where(self, item: Item) -> str:
        """``manifest:line`` of an item, for messages."""
        return f"{self.path}:{self.lines.get(item.id, '?')}"

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.header.get("name", self.path.parent.name)

    @property
    def roots(self) -> dict[str, Path]:
        """Named corpus folders from the header; relative ones are relative to the manifest."""
        return {name: self.root / folder for name, folder in self.header.get("roots", {}).items()}

    def resolved_roots(self) -> dict[str, Path]:
        """Each named root as the real folder it reaches (symlinks followed)."""
        return {name: _real(folder, self.path) for name, folder in self.roots.items()}

    def outside_roots(self) -> dict[str, Path]:
        """The roots that resolve outside the set's folder (allowed only with ``allow_roots``)."""
        inside = self.root.resolve()
        return {name: real for name, real in self.resolved_roots().items() if not real.is_relative_to(inside)}

    def resolve(self, relative: str) -> Path:
        """The absolute path of an audio file, refusing paths that escape its root."""
        prefix, sep, rest = relative.partition(":")
        roots = self.roots
        if sep and prefix in roots:
            return resolve_under(roots[prefix], rest, self.path)
        return resolve_under(self.root, relative, self.path)


@lru_cache(maxsize=1 << 16)  # resolving walks the file system; every clip is resolved once per case
def resolve_under(root: Path, relative: str, origin: Path) -> Path:
    root = _real(root, origin)
    candidate = _real(root / relative, origin)
    if not candidate.is_relative_to(root):
        raise ManifestError(
            f"{origin}: audio path {relative!r} escapes the data root {root}; "
            "paths must be relative and stay inside the set's folder"
        )
    return candidate


def _real(path: Path, origin: Path) -> Path:
    """`path` resolved; a NUL byte (which no file name can hold) is a manifest error, not a ValueError."""
    try:
        return path.resolve()
    except ValueError:
        raise ManifestError(f"{origin}: path {str(path)!r} holds a NUL byte; no file name can, fix the path") from None


def manifest_path(data: str | Path | None) -> Path:
    """Accept a manifest file or a set's folder (holding manifest.jsonl); None = demo set."""
    path = Path(data) if data else DEMO_DIR
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(
            f"no manifest at {path}: pass --sseu-data a manifest file or a folder holding {MANIFEST_NAME}"
        )
    return path


def load_manifest(data: str | Path | None = None, taxonomy: Taxonomy | None = None,
                  allow_roots: bool = False) -> Manifest:
    """Read and check a manifest; `allow_roots` lets the header's roots reach outside the set's folder."""
    path = manifest_path(data)
    taxonomy = taxonomy or load_taxonomy()
    raw = path.read_bytes()
    lines = _text(path, raw).split("\n")  # "\n" only: U+2028 and friends are legal inside JSON strings
    if not "".join(lines).strip():
        raise ManifestError(f"{path} is empty: line 1 must be the header {{\"schema\": \"{SCHEMA}\", ...}}")
    header = _json_line(path, 1, lines[0])
    if header.get("schema") != SCHEMA:
        raise ManifestError(
            f"{path}:1: schema is {header.get('schema')!r}, this harness reads {SCHEMA!r}; "
            "rebuild or convert the manifest"
        )
    roots = header.get("roots", {})
    if not isinstance(roots, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in roots.items()):
        raise ManifestError(f"{path}:1: roots must map names to folders, got {roots!r}")
    snrs = _header_snrs(path, header)
    items: list[Item] = []
    numbers: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        item = _parse_item(path, number, _json_line(path, number, line), taxonomy)
        if item.id in numbers:
            raise ManifestError(f"{path}:{number}: duplicate item id {item.id!r}; ids must be unique")
        numbers[item.id] = number
        items.append(item)
    if not items:
        raise ManifestError(f"{path} has a header but no items")
    manifest = Manifest(path, header, tuple(items), hashlib.sha256(raw).hexdigest(), snrs, numbers)
    outside = manifest.outside_roots()
    if outside and not allow_roots:
        named = ", ".join(f"{name} = {roots[name]!r} (resolves to {real})" for name, real in outside.items())
        raise ManifestError(
            f"{path}:1: root(s) {named} lie outside the set's folder {manifest.root.resolve()}; a manifest may "
            "read only inside its folder. Move the corpus into it, or, if you trust this manifest, pass "
            "--sseu-allow-roots (sseu view: --allow-roots)"
        )
    for item in items:  # refuse escaping paths up front, not halfway through a run
        for relative in (*item.speech.parts, item.background.path, *(item.premixed or {}).values()):
            if relative is not None:
                manifest.resolve(relative)
    return manifest


def _text(path: Path, raw: bytes) -> str:
    """The file as text: UTF-8, with or without a byte-order mark; other encodings are named with their line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); "
                            "save the manifest as UTF-8") from None


def _header_snrs(path: Path, header: dict) -> tuple[str, ...] | None:
    """The header's ``snrs`` as labels: a list of labels or dB values (``"inf"``, ``"-inf"`` and JSON
    ``Infinity`` are the one-source conditions); NaN, a bare string or anything else is refused."""
    declared = header.get("snrs")
    if declared is None:
        return None
    if not isinstance(declared, list) or not declared:
        raise ManifestError(f"{path}:1: snrs must be a list of SNR labels or dB values (e.g. [\"snr_p10\", 0, "
                            f"\"-inf\"]), got {declared!r}")
    labels = []
    for value in declared:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or \
                (isinstance(value, float) and math.isnan(value)):
            raise ManifestError(f"{path}:1: snrs holds {value!r}; give labels (snr_p10) or numbers of dB, "
                                "\"inf\" / \"-inf\" for the one-source conditions")
        try:
            label = snr_label(parse_snr(str(value)))
        except ConfigError as exc:
            raise ManifestError(f"{path}:1: snrs: {exc}") from None
        if label not in labels:
            labels.append(label)
    return tuple(labels)


def iter_manifest_lines(header: dict, items: list[Item]) -> Iterator[str]:
    """Serialise a manifest (header first); the writer of `build` and the demo script."""
    yield json.dumps({"schema": SCHEMA, **header}, sort_keys=True)
    for item in items:
        yield json.dumps(item.to_json(), sort_keys=True)


def _json_line(path: Path, number: int, line: str) -> dict:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{number}: not valid JSON ({exc.msg}); each line must be one JSON object") from exc
    except RecursionError:
        raise ManifestError(f"{path}:{number}: JSON nested too deeply to read; an item is a few levels of "
                            "objects") from None
    if not isinstance(value, dict):
        raise ManifestError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
    return value


def _parse_item(path: Path, number: int, row: dict, taxonomy: Taxonomy) -> Item:
    where = f"{path}:{number}"

    def need(obj: dict, key: str, kind: type, ctx: str):
        if key not in obj:
            raise ManifestError(f"{where}: {ctx} lacks field {key!r}")
        value = obj[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise ManifestError(f"{where}: {ctx}.{key} must be {kind.__name__}, got {value!r}")
        if kind is float and not math.isfinite(value):
            raise ManifestError(f"{where}: {ctx}.{key} must be a finite number of seconds, got {value!r}")
        return value

    item_id = need(row, "id", str, "item")
    sp = need(row, "speech", dict, "item")
    bg = need(row, "background", dict, "item")
    scene = need(bg, "scene", str, "background")
    if scene not in taxonomy.scene_ids:
        raise ManifestError(f"{where}: scene {scene!r} is not in the taxonomy ({', '.join(taxonomy.scene_ids)})")
    events = []
    for ev in need(bg, "events", list, "background"):
        if not isinstance(ev, dict):
            raise ManifestError(f"{where}: background.events holds {ev!r}, expected objects")
        label = need(ev, "label", str, "event")
        if label not in taxonomy.event_ids:
            raise ManifestError(f"{where}: event {label!r} is not in the taxonomy; map it through taxonomy.toml aliases")
        onset, offset = need(ev, "onset", float, "event"), need(ev, "offset", float, "event")
        if not 0 <= onset < offset:
            raise ManifestError(f"{where}: event {label!r} has onset {onset} / offset {offset}; need 0 <= onset < offset")
        events.append(Event(label, onset, offset))
    premixed = row.get("premixed")
    if premixed is not None:
        if not isinstance(premixed, dict) or not premixed or not all(isinstance(v, str) for v in premixed.values()):
            raise ManifestError(f"{where}: premixed must map SNR labels to mixture paths, got {premixed!r}")
        labels = {}
        for key, value in premixed.items():
            try:
                labels[snr_label(parse_snr(key))] = value
            except ConfigError as exc:
                raise ManifestError(f"{where}: premixed key {key!r}: {exc}") from None
        premixed = labels
    sourced = premixed is None
    onset = need(sp, "onset", float, "speech") if sourced or "onset" in sp else 0.0
    if onset < 0:
        raise ManifestError(f"{where}: speech.onset {onset} is negative")
    speech_path = None
    if sourced:
        speech_path = sp.get("path")
        if isinstance(speech_path, list) and speech_path and all(isinstance(p, str) for p in speech_path):
            speech_path = tuple(speech_path)
        elif not isinstance(speech_path, str):
            raise ManifestError(f"{where}: speech.path must be a path or a list of paths, got {speech_path!r}")
    gap = sp.get("gap", DEFAULT_GAP)
    start, duration = bg.get("start", 0.0), bg.get("duration")
    for name, value in (("speech.gap", gap), ("background.start", start), ("background.duration", duration)):
        if value is not None and (not is_finite_number(value) or value < 0):
            raise ManifestError(f"{where}: {name} must be a finite, non-negative number of seconds, got {value!r}")
    speech_labels = bg.get("speech_labels", [])
    if not isinstance(speech_labels, list) or not all(isinstance(x, str) and x for x in speech_labels):
        raise ManifestError(f"{where}: background.speech_labels must be a list of source labels (strings), "
                            f"got {speech_labels!r}")
    if duration is not None and duration == 0:
        raise ManifestError(f"{where}: background.duration is 0; give the window's length in seconds")
    for event in events:
        if duration is not None and event.offset > duration + 1e-6:
            raise ManifestError(f"{where}: event {event.label!r} ends at {event.offset} s, after the {duration} s window")
    return Item(
        id=item_id,
        speech=Speech(
            path=speech_path,
            transcript=need(sp, "transcript", str, "speech"),
            speaker=need(sp, "speaker", str, "speech") if sourced else str(sp.get("speaker", "")),
            onset=onset,
            gap=float(gap),
        ),
        background=Background(
            path=need(bg, "path", str, "background") if sourced else None,
            source=need(bg, "source", str, "background") if sourced else str(bg.get("source", "premixed")),
            scene=scene,
            events=tuple(events),
            start=float(start),
            duration=None if duration is None else float(duration),
            speech_labels=tuple(speech_labels),
        ),
        premixed=premixed,
    )
