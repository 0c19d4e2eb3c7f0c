"""The 6 scenes and 18 event classes of SSEU-Bench, loaded from `data/taxonomy.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sseu_harness.errors import ConfigError

DEFAULT_TAXONOMY = Path(__file__).resolve().parents[1] / "data" / "taxonomy.toml"


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    aliases: tuple[str, ...]
    clap_name: str | None = None  # the paper's name, embedded only by CLAP baselines with class_names = "paper"


@dataclass(frozen=True)
class Taxonomy:
    version: str
    scenes: tuple[Label, ...]
    events: tuple[Label, ...]
    speech_like: frozenset[str]

    @property
    def scene_ids(self) -> list[str]:
        return [s.id for s in self.scenes]

    @property
    def event_ids(self) -> list[str]:
        return [e.id for e in self.events]

    def scene_name(self, scene_id: str) -> str:
        return self._by_id(self.scenes, scene_id, "scene").name

    def event_name(self, event_id: str) -> str:
        return self._by_id(self.events, event_id, "event").name

    def scene_for(self, source_label: str) -> str | None:
        """Map a source-corpus scene label onto a scene id (None when unknown)."""
        return _alias_index(self.scenes).get(source_label.strip().lower())

    def event_for(self, source_label: str) -> str | None:
        """Map a source-corpus event label onto an event id (None when unknown)."""
        return _alias_index(self.events).get(source_label.strip().lower())

    def is_speech_like(self, source_label: str) -> bool:
        return source_label.strip().lower() in self.speech_like

    @staticmethod
    def _by_id(labels: tuple[Label, ...], label_id: str, kind: str) -> Label:
        for label in labels:
            if label.id == label_id:
                return label
        known = ", ".join(l.id for l in labels)
        raise ConfigError(f"unknown {kind} {label_id!r}; known {kind}s: {known}")


@lru_cache(maxsize=None)
def _alias_index(labels: tuple[Label, ...]) -> dict[str, str]:
    index: dict[str, str] = {}
    for label in labels:
        for key in (label.id, label.name, *label.aliases):
            index[key.strip().lower()] = label.id
    return index


@lru_cache(maxsize=8)
def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read taxonomy file {path}: {exc}") from exc

    def labels(key: str) -> tuple[Label, ...]:
        out = []
        for entry in raw.get(key, []):
            try:
                out.append(Label(entry["id"], entry["name"], tuple(entry.get("aliases", ())), entry.get("clap_name")))
            except KeyError as exc:
                raise ConfigError(f"{path}: a [[{key}]] entry lacks {exc}; each needs id and name") from exc
        return tuple(out)

    return Taxonomy(
        version=raw.get("version", "unversioned"),
        scenes=labels("scenes"),
        events=labels("events"),
        speech_like=frozenset(s.lower() for s in raw.get("speech_like", [])),
    )
