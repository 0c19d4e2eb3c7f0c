"""Import a pre-mixed set (CSV or JSON Lines + a column mapping) as a manifest of ``premixed`` items.

Each row is one mixture file at one SNR. ``--map`` names the columns:
``audio`` (path of the mixture, relative to ``--root`` or absolute inside it),
``snr`` (required), ``scene`` (required), ``transcript``, ``events``,
``speaker`` and ``id`` (the clip id; ``--clip-id`` does the same). Rows of one
clip id become one item whose ``premixed`` maps each SNR label to its file;
without a clip-id column, rows with the same transcript, scene and events do.

* SNR: a number of dB with an optional ``dB`` suffix (``10``, ``-5dB``,
  ``+2.5 dB``), ``inf`` / ``+inf`` / ``-inf`` (``infinity`` too), a label
  (``snr_m10``), or a spelling from ``[import.snr_aliases]`` in
  ``data/build_defaults.toml`` (``clean``, ``noise``, ...). Values outside the
  paper's seven get labels by the core rule (``+3`` -> ``snr_p3``).
* Scene and event labels go through the taxonomy (ids, display names, source
  aliases, case-insensitive); events in one cell are split on ``;``, ``,`` or
  ``|`` (or given as a JSON list); speech-like labels are dropped; an unknown
  label stops the import with the row and the known labels.
* Events carry no times in such sets: each gets the whole clip (0 to the
  mixture's duration, read from the file header).
* Paths: the manifest's header gets ``roots: {"set": <root>}`` (``.`` when the
  manifest is written into the root itself) and every path is
  ``set:<relative>``; a path that leaves the root is refused, as is a missing
  or unreadable file.

The manifest is written atomically after every row has been checked and the
whole file loads back.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from sseu_harness import __version__
from sseu_harness.dataset.build import write_atomic
from sseu_harness.dataset.corpora import load_defaults
from sseu_harness.dataset.manifest import (
    MANIFEST_NAME,
    Background,
    Event,
    Item,
    Speech,
    iter_manifest_lines,
    load_manifest,
)
from sseu_harness.errors import ConfigError, ManifestError
from sseu_harness.spec.snr import parse_snr, snr_label
from sseu_harness.spec.taxonomy import Taxonomy, load_taxonomy

FIELDS = ("audio", "snr", "scene", "transcript", "events", "speaker", "id")
REQUIRED = ("audio", "snr", "scene")
SEPARATORS = re.compile(r"[;,|]")


@dataclass
class ImportResult:
    manifest: Path
    items: int
    rows: int
    snrs: list[str]
    dropped_labels: dict[str, int]


def parse_map(text: str) -> dict[str, str]:
    """``audio=file,snr=snr_db,...`` -> {field: column}."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        field_name, sep, column = part.partition("=")
        field_name = field_name.strip().lower()
        if not sep or not column.strip():
            raise ConfigError(f"--map entry {part!r}: write FIELD=COLUMN, e.g. audio=file,snr=snr_db,scene=scene")
        if field_name not in FIELDS:
            raise ConfigError(f"--map field {field_name!r} is unknown; fields: {', '.join(FIELDS)}")
        mapping[field_name] = column.strip()
    return mapping


def import_set(source: Path, root: Path, out: Path, mapping: dict[str, str], fmt: str | None = None,
               clip_id: str | None = None, name: str | None = None, delimiter: str | None = None) -> ImportResult:
    source, out = Path(source), Path(out)
    if clip_id:
        mapping = {**mapping, "id": clip_id}
    missing = [f for f in REQUIRED if f not in mapping]
    if missing:
        raise ConfigError(f"--map lacks {', '.join(missing)}; required: {', '.join(REQUIRED)} "
                          "(e.g. --map audio=file,snr=snr_db,scene=scene,transcript=text,events=labels)")
    if not Path(root).is_dir():
        raise ConfigError(f"--root {root}: no such folder; pass the folder the set's audio paths are relative to")
    root = Path(root).resolve()
    if not source.is_file():
        raise ConfigError(f"{source}: no such file; pass the set's metadata CSV (--csv) or JSON Lines (--jsonl)")
    fmt = fmt or ("jsonl" if source.suffix.lower() in (".jsonl", ".ndjson") else "csv")
    try:
        rows = list(_read_jsonl(source) if fmt == "jsonl" else _read_csv(source, delimiter))
    except UnicodeDecodeError:
        raise ConfigError(f"{source}:{_first_non_utf8_line(source)}: not UTF-8; save the file as UTF-8 "
                          "(e.g. iconv -f latin1 -t utf-8)") from None
    if not rows:
        raise ConfigError(f"{source}: holds no rows")
    columns = set().union(*(row.keys() for _, row in rows))
    absent = [f"{f}={c}" for f, c in mapping.items() if c not in columns]
    if absent:
        raise ConfigError(f"{source}: --map names columns that are not there ({', '.join(absent)}); "
                          f"its columns: {', '.join(sorted(columns))}")

    taxonomy = load_taxonomy()
    aliases = {k.lower(): v for k, v in load_defaults().get("import", {}).get("snr_aliases", {}).items()}
    dropped: dict[str, int] = {}
    groups: dict[str, dict] = {}
    order: list[str] = []
    for line, row in rows:
        where = f"{source}:{line}"
        audio = _value(row, mapping, "audio", where, required=True)
        snr = _snr(_value(row, mapping, "snr", where, required=True), aliases, where)
        scene_text = _value(row, mapping, "scene", where, required=True)
        scene = taxonomy.scene_for(scene_text)
        if scene is None:
            raise ConfigError(f"{where}: scene {scene_text!r} is not in the taxonomy; known scenes: "
                              f"{', '.join(taxonomy.scene_ids)} (or add an alias in sseu_harness/data/taxonomy.toml)")
        transcript = " ".join(_value(row, mapping, "transcript", where).split())
        events = _events(row.get(mapping["events"]) if "events" in mapping else None, taxonomy, where, dropped)
        speaker = _value(row, mapping, "speaker", where)
        relative, path = _resolve(audio, root, where)
        duration = _duration(path, where)
        key = _value(row, mapping, "id", where, required=True) if "id" in mapping else \
            json.dumps([transcript, scene, events])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"id": key if "id" in mapping else None, "transcript": transcript, "scene": scene,
                                   "events": events, "speaker": speaker, "files": {}, "lines": {}, "duration": duration,
                                   "first": line}
            order.append(key)
        else:
            for field_name, value in (("scene", scene), ("events", events)):
                if value != group[field_name]:
                    raise ConfigError(f"{where}: clip {key!r} has {field_name} {value!r} here but {group[field_name]!r} "
                                      f"at line {group['first']}; rows of one clip must agree")
            if transcript and group["transcript"] and transcript != group["transcript"]:
                raise ConfigError(f"{where}: clip {key!r} has another transcript than at line {group['first']}; "
                                  "rows of one clip must agree")
            group["transcript"] = group["transcript"] or transcript
            group["speaker"] = group["speaker"] or speaker
            group["duration"] = min(group["duration"], duration)
        label = snr_label(snr)
        if label in group["files"]:
            raise ConfigError(f"{where}: clip {key!r} has a second file for {label} (first at line "
                              f"{group['lines'][label]}); give each clip one file per SNR")
        group["files"][label] = f"set:{relative}"
        group["lines"][label] = line

    items = []
    for number, key in enumerate(order, start=1):
        g = groups[key]
        item_id = g["id"] or f"clip-{number:05d}"
        events = tuple(Event(label, 0.0, round(g["duration"], 3)) for label in g["events"])
        items.append(Item(
            id=item_id,
            speech=Speech(path=None, transcript=g["transcript"], speaker=g["speaker"], onset=0.0),
            background=Background(path=None, source="premixed", scene=g["scene"], events=events),
            premixed=dict(sorted(g["files"].items())),
        ))
    out.mkdir(parents=True, exist_ok=True)
    root_entry = "." if out.resolve() == root else str(root)
    header = {"name": name or source.stem, "roots": {"set": root_entry},
              "import": {"source": str(source.resolve()), "format": fmt, "map": mapping, "rows": len(rows),
                         "harness_version": __version__},
              "generator": "sseu import"}
    manifest = out / MANIFEST_NAME
    write_atomic(manifest, "".join(line + "\n" for line in iter_manifest_lines(header, items)),
                 validate=lambda tmp: load_manifest(tmp, taxonomy, allow_roots=True))
    labels = sorted({label for item in items for label in item.premixed}, key=lambda s: -parse_snr(s))
    return ImportResult(manifest, len(items), len(rows), labels, dropped)


def _read_csv(source: Path, delimiter: str | None):
    delimiter = delimiter or ("\t" if source.suffix.lower() == ".tsv" else ",")
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = [cell.strip() for cell in next(reader)]
        except StopIteration:
            raise ConfigError(f"{source}: empty file; line 1 must name the columns") from None
        if len(set(header)) != len(header):
            raise ConfigError(f"{source}:1: repeated column names {header}; make them unique")
        for line, cells in enumerate(reader, start=2):
            if not cells or not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise ConfigError(f"{source}:{line}: {len(cells)} fields but the header names {len(header)}; "
                                  "quote fields that contain the delimiter")
            yield line, {col: cells[i].strip() if i < len(cells) else None for i, col in enumerate(header)}


def _read_jsonl(source: Path):
    """Rows split at line feeds only (text mode would also split at a lone CR); a byte-order mark is accepted."""
    with source.open(encoding="utf-8-sig", newline="\n") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}:{line}: not valid JSON ({exc.msg}); each line must be one object") from None
            except RecursionError:
                raise ConfigError(f"{source}:{line}: JSON nested too deeply to read; each line must be one flat "
                                  "object") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{source}:{line}: expected a JSON object, got {type(row).__name__}")
            yield line, row


def _first_non_utf8_line(source: Path) -> int:
    raw = source.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return raw[: exc.start].count(b"\n") + 1
    return 1


def _value(row: dict, mapping: dict, field_name: str, where: str, required: bool = False) -> str:
    if field_name not in mapping:
        return ""
    value = row.get(mapping[field_name])
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(f"{where}: field {field_name!r} (column {mapping[field_name]!r}) is missing or empty; "
                              "fill it in or drop the row")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: field {field_name!r} (column {mapping[field_name]!r}) must be text, got {value!r}")
    return value.strip()


def _snr(text: str, aliases: dict[str, str], where: str) -> float:
    value = aliases.get(text.strip().lower(), text)
    compact = value.strip().lower().replace(" ", "")
    if compact in ("infinity", "+infinity", "infdb", "+infdb"):
        compact = "inf"
    elif compact in ("-infinity", "-infdb"):
        compact = "-inf"
    try:
        return parse_snr(compact)
    except ConfigError as exc:
        raise ConfigError(f"{where}: SNR {text!r}: {exc} (or one of: {', '.join(sorted(aliases))})") from None


def _events(value, taxonomy: Taxonomy, where: str, dropped: dict[str, int]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        raw = [str(v) for v in value]
    elif isinstance(value, str):
        raw = SEPARATORS.split(value)
    else:
        raise ConfigError(f"{where}: events must be text or a list, got {value!r}")
    labels: list[str] = []
    for text in (r.strip() for r in raw):
        if not text:
            continue
        if taxonomy.is_speech_like(text):
            dropped[text] = dropped.get(text, 0) + 1
            continue
        event_id = taxonomy.event_for(text)
        if event_id is None:
            raise ConfigError(f"{where}: event {text!r} is not in the taxonomy; known events: "
                              f"{', '.join(taxonomy.event_ids)} (or add an alias in sseu_harness/data/taxonomy.toml)")
        if event_id not in labels:
            labels.append(event_id)
    return sorted(labels)


def _resolve(audio: str, root: Path, where: str) -> tuple[str, Path]:
    candidate = Path(audio)
    path = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not path.is_relative_to(root):
        raise ManifestError(f"{where}: audio path {audio!r} leaves the set's root {root}; "
                            "paths must stay inside --root")
    return path.relative_to(root).as_posix(), path


def _duration(path: Path, where: str) -> float:
    if not path.is_file():
        raise ManifestError(f"{where}: audio file {path} not found; check --root and the audio column")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise ManifestError(f"{where}: cannot read {path} ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc}); "
                            "re-export it as WAV or FLAC") from None
    if info.frames <= 0:
        raise ManifestError(f"{where}: {path} holds no samples; replace the file")
    return info.frames / info.samplerate

