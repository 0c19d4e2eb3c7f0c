"""Prompt sets: versioned TOML data files, validated strictly and fingerprinted.

The prompt text decides the scores, so a result must name the exact prompts
that produced it: `PromptSet.version` and `PromptSet.sha256` are stored with
every result. A typo in a key would silently fall back to nothing, so unknown
keys are errors, not ignored. A model whose own recipe puts an instruction in
the system turn (Step-Audio 2) gets it from a ``[system.<model>]`` table, per
task like the overrides; it rides on the `Prompt` and is part of its hash.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from sseu_harness.errors import ConfigError
from sseu_harness.spec.tasks import MODES, TASKS

DEFAULT_PROMPTS = Path(__file__).resolve().parents[1] / "data" / "prompts" / "sseu-prompts-2.toml"

_TOP_LEVEL = ("version", "independent", "joint", "cot", "overrides", "system")
_TEXT_TABLES = {"independent": TASKS, "joint": ("text",), "cot": ("text",)}
# Override keys share one namespace: a task name for independent mode, else the mode.
_OVERRIDE_KEYS = (*TASKS, "joint", "cot")


class Prompt(str):
    """A case's prompt text, with the system turn its model's recipe wants (None: no system turn).

    A `str`, so every stage that passes prompt text keeps doing so; `hashed`
    is what the store key and the record fingerprint.
    """

    system: str | None

    def __new__(cls, text: str, system: str | None = None) -> "Prompt":
        prompt = super().__new__(cls, text)
        prompt.system = system
        return prompt

    def __reduce__(self) -> tuple:
        return (Prompt, (str(self), self.system))


def hashed(prompt: str) -> str:
    """The text a prompt's hash covers: the text alone (as before system turns existed), or both as JSON."""
    system = getattr(prompt, "system", None)
    if system is None:
        return str(prompt)
    return json.dumps({"system": system, "text": str(prompt)}, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class PromptSet:
    version: str
    sha256: str  # of the canonical JSON of the parsed file (sort_keys)
    path: Path
    texts: Mapping[str, str] = field(repr=False, compare=False)  # keyed like overrides
    overrides: Mapping[str, Mapping[str, str]] = field(repr=False, compare=False)
    systems: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def prompt(self, task: str, mode: str, model: str | None = None) -> Prompt:
        """The prompt for one case (its system turn, if the model has one); joint and CoT share one text across tasks."""
        if task not in TASKS:
            raise ConfigError(f"prompt set {self.path}: unknown task {task!r}; known tasks: {', '.join(TASKS)}")
        if mode not in MODES:
            raise ConfigError(f"prompt set {self.path}: unknown mode {mode!r}; known modes: {', '.join(MODES)}")
        key = task if mode == "independent" else mode
        override = self.overrides.get(model, {}) if model is not None else {}
        system = self.systems.get(model, {}) if model is not None else {}
        return Prompt(override.get(key, self.texts[key]), system.get(key))


def load_prompts(path: Path = DEFAULT_PROMPTS) -> PromptSet:
    """Read and validate a prompt set; every problem is a ConfigError naming the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read prompt set {path}: {exc}") from exc

    _check_keys(path, raw, "top level", _TOP_LEVEL, required=("version", *_TEXT_TABLES))
    version = _string(path, raw, "version", allow_empty=False)
    texts: dict[str, str] = {}
    for table_name, keys in _TEXT_TABLES.items():
        table = _table(path, raw, table_name)
        _check_keys(path, table, f"[{table_name}]", keys, required=keys)
        for key in keys:
            text = _string(path, table, key, allow_empty=False, where=f"[{table_name}] ")
            texts[key if table_name == "independent" else table_name] = text

    # An empty override is allowed: some models (Whisper) take no prompt text.
    overrides = _per_model(path, raw, "overrides", allow_empty=True)
    systems = _per_model(path, raw, "system", allow_empty=False)

    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return PromptSet(
        version=version,
        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        path=path,
        texts=MappingProxyType(texts),
        overrides=MappingProxyType(overrides),
        systems=MappingProxyType(systems),
    )


def _per_model(path: Path, raw: dict, name: str, allow_empty: bool) -> dict[str, Mapping[str, str]]:
    """``[<name>.<model>]`` tables of texts keyed like overrides (a task, joint, cot)."""
    out: dict[str, Mapping[str, str]] = {}
    for model, table in _table(path, raw, name, optional=True).items():
        where = f"[{name}.{model}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: '{name}.{model}' must be a table; fix: write it as a {where} section")
        _check_keys(path, table, where, _OVERRIDE_KEYS, required=())
        out[model] = MappingProxyType({k: _string(path, table, k, allow_empty=allow_empty, where=f"{where} ")
                                       for k in table})
    return out


def _check_keys(path: Path, table: dict, where: str, known: tuple[str, ...], required: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r} in {where}; fix: use one of the known keys: {', '.join(known)}")
    for key in required:
        if key not in table:
            raise ConfigError(f"{path}: missing required key {key!r} in {where}; fix: add {key} = \"...\"")


def _table(path: Path, raw: dict, name: str, optional: bool = False) -> dict:
    table = raw.get(name, {} if optional else None)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {name!r} must be a table; fix: write it as a [{name}] section")
    return table


def _string(path: Path, table: dict, key: str, allow_empty: bool, where: str = "") -> str:
    value: Any = table[key]
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {where}{key!r} must be a string, not {type(value).__name__}; fix: quote the text")
    if not allow_empty and not value.strip():
        raise ConfigError(f"{path}: {where}{key!r} is empty; fix: write the prompt text (empty prompts belong in [overrides.<model>])")
    return value
