"""Model settings: declared per adapter, validated strictly, merged from a models file and options.

This is core code, importable without any adapter (the plugin's options and
the model server use it) and on Python 3.10 (the model server's environments).
An adapter declares its settings as a `Schema` (class attribute ``SETTINGS``):
name, kind and default of each key. Settings reach it as keyword arguments
(`ModelSpec.settings`) from two sources, validated apart so
that an error names its source:

- a TOML models file (``--sseu-models-file``) with one ``[models.<name>]``
  table per model (``<name>`` is the model as given to ``--sseu-model``);
- the single-model options (``--sseu-model-path`` ...), which apply only when
  exactly one model is selected, and override the file.

Secrets are never settings: an API key comes from the environment variable
named by ``api_key_env``; a key named like ``api_key`` is refused.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from sseu_harness.errors import ConfigError
from sseu_harness.numbers import is_finite_number
from sseu_harness.spec.tasks import MODES

SECRET_KEYS = ("api_key", "key", "token", "password", "secret")
# Settings every model takes that the harness reads and the adapter never sees (nor its store key).
PAPER_SYSTEM = "paper_system"
HARNESS_KEYS = (PAPER_SYSTEM,)
# Top-level keys of a models file besides the [models.<name>] tables.
PROTOCOL_KEY = "protocol"

# kind -> (check, description)
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "pos_int": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "float": (is_finite_number, "a finite number"),
    "nonneg": (lambda v: is_finite_number(v) and v >= 0, "a finite number >= 0"),
    "pos": (lambda v: is_finite_number(v) and v > 0, "a finite number > 0"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "table": (lambda v: isinstance(v, dict), "a table"),
    "str_list": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
    "urls": (lambda v: (isinstance(v, str) and v.strip(",") != "")
             or (isinstance(v, list) and v != [] and all(isinstance(x, str) and x for x in v)),
             "a URL, a comma list of URLs or a list of URLs"),
    "tokens": (
        lambda v: (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
        or (isinstance(v, dict) and set(v) <= set(MODES) and all(isinstance(x, int) and x >= 1 for x in v.values())),
        "an integer >= 1 or a table by mode (independent, joint, cot)",
    ),
}


@dataclass(frozen=True)
class Setting:
    kind: str
    default: Any = None
    choices: tuple = ()
    help: str = ""


class Schema:
    """The settings one adapter accepts; `parse` returns defaults merged with validated values."""

    def __init__(self, **settings: Setting) -> None:
        for name, setting in settings.items():
            if setting.kind not in _KINDS:
                raise ValueError(f"setting {name}: unknown kind {setting.kind!r}")
        self.settings = settings

    def keys(self) -> list[str]:
        return sorted(self.settings)

    def extend(self, **more: Setting) -> "Schema":
        return Schema(**{**self.settings, **more})

    def defaults(self) -> dict[str, Any]:
        return {k: _copy(s.default) for k, s in self.settings.items()}

    def check(self, model: str, values: Mapping[str, Any], source: str) -> None:
        """Every key known, every value of the declared kind; errors name the source and the key."""
        for key, value in values.items():
            if _is_secret(key):
                raise ConfigError(
                    f"{source}: model {model}: {key!r} looks like a secret and is never read from files or options; "
                    f"put the key in an environment variable and name it with api_key_env"
                )
            if key not in self.settings:
                raise ConfigError(
                    f"{source}: unknown setting {key!r} for model {model}; known settings: {', '.join(self.keys())}"
                )
            setting = self.settings[key]
            if value is None and setting.default is None:
                continue
            ok, description = _KINDS[setting.kind]
            if not ok(value):
                raise ConfigError(f"{source}: model {model}: {key} must be {description}, got {value!r}")
            if setting.choices and value not in setting.choices:
                raise ConfigError(
                    f"{source}: model {model}: {key} must be one of {', '.join(map(str, setting.choices))}, got {value!r}"
                )

    def parse(self, model: str, values: Mapping[str, Any], source: str = "settings") -> dict[str, Any]:
        self.check(model, values, source)
        return {**self.defaults(), **{k: _copy(v) for k, v in values.items()}}


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value)) if isinstance(value, (dict, list)) else value


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(("_key", "_token", "_password", "_secret"))


# --- where settings come from -------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A value typed on the command line: a TOML/JSON literal when it parses as one, else the string."""
    for loads in (_toml_value, json.loads):
        try:
            return loads(text)
        except Exception:  # noqa: BLE001 - any parse failure means "a plain string"
            continue
    return text


def _toml_value(text: str) -> Any:
    import tomllib  # Python 3.11+; the JSON fallback serves older interpreters

    return tomllib.loads(f"v = {text}")["v"]


def parse_assignments(items: list[str], source: str) -> dict[str, Any]:
    """``key=value`` strings (``--sseu-model-set``) into a dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{source}: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def load_models_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """``[models.<name>]`` tables of a TOML file (`models_file_protocol` reads its ``protocol`` key)."""
    tables = _read_models_file(path).get("models", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'models' must be a table of [models.<name>] tables")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: models.{name} must be a table; write it as a [models.{name}] section")
    return tables


def models_file_protocol(path: str | Path) -> str | None:
    """The file's top-level ``protocol = "paper" | "harness"`` (docs/reproducing.md), or None."""
    value = _read_models_file(path).get(PROTOCOL_KEY)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: {PROTOCOL_KEY} must be a string such as \"paper\", got {value!r}")
    return value


def _read_models_file(path: str | Path) -> dict:
    import tomllib

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read models file {path}: {exc}") from None
    for key in raw:
        if key not in ("models", PROTOCOL_KEY):
            raise ConfigError(f"{path}: unknown top-level key {key!r}; known keys: models (write [models.<name>] "
                              f"tables), {PROTOCOL_KEY}")
    return raw


@dataclass(frozen=True)
class SettingsSource:
    values: dict[str, Any]
    where: str  # for error messages: the file and table, or the options


def schema_of(factory: Callable) -> Schema | None:
    """An adapter's declared settings, or None when it declares none (third-party factories)."""
    schema = getattr(factory, "SETTINGS", None)
    return schema if isinstance(schema, Schema) else None


def accepted_keys(factory: Callable) -> list[str] | None:
    """Keyword names a factory without a Schema accepts; None when it takes ``**kwargs``."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return sorted(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


def validate_for(label: str, factory: Callable, source: SettingsSource) -> None:
    if PAPER_SYSTEM in source.values:
        check_paper_system(source.values[PAPER_SYSTEM], f"{source.where}: model {label}")
    source = SettingsSource({k: v for k, v in source.values.items() if k not in HARNESS_KEYS}, source.where)
    schema = schema_of(factory)
    if schema is not None:
        schema.check(label, source.values, source.where)
        return
    for key in source.values:
        if _is_secret(key):
            raise ConfigError(f"{source.where}: model {label}: {key!r} looks like a secret; use an environment variable")
    known = accepted_keys(factory)
    if known is not None:
        for key in source.values:
            if key not in known:
                raise ConfigError(
                    f"{source.where}: unknown setting {key!r} for model {label}; known settings: {', '.join(known) or '(none)'}"
                )


def check_paper_system(name: Any, where: str) -> str:
    """A `paper_system` value: one of the paper's seven names, exactly (their list in the error)."""
    from sseu_harness.spec.paper import load_paper_figures  # tomllib: not on the model server's Python 3.10 path

    figures = load_paper_figures()
    if not isinstance(name, str):
        raise ConfigError(f"{where}: paper_system must be a string, one of: {', '.join(map(repr, figures.systems))}")
    return figures.check_system(name, where)


def resolve_model_settings(
    specs: list[str],
    factories: Mapping[str, Callable],
    labels: Mapping[str, str],
    models_file: str | Path | None = None,
    single: Mapping[str, Any] | None = None,
    single_where: str = "options",
    workers: int = 1,
    protocol_settings: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{label: settings}`` for the selected models, validated, with each adapter's early checks run.

    `specs` are the models as typed; `factories` and `labels` map a spec to its
    factory and case-id label. A models-file table matches a spec or a label.
    `protocol_settings` (``--sseu-protocol paper``: ``decoding``) go to each model whose schema declares
    the key and that does not set it itself. `HARNESS_KEYS` stay in the result, for the caller to take out.
    """
    tables = load_models_file(models_file) if models_file else {}
    single = dict(single or {})
    if single and len(specs) != 1:
        raise ConfigError(
            f"{single_where} configure a single model, but {len(specs)} are selected ({', '.join(specs)}); "
            "give each model its settings in a models file (--sseu-models-file, [models.<name>] tables)"
        )
    resolved: dict[str, dict[str, Any]] = {}
    for spec in specs:
        label, factory = labels[spec], factories[spec]
        merged: dict[str, Any] = {}
        for name in dict.fromkeys((spec, label)):
            if name in tables:
                source = SettingsSource(dict(tables[name]), f"models file {models_file} [models.{name}]")
                validate_for(label, factory, source)
                merged.update(source.values)
        if single:
            validate_for(label, factory, SettingsSource(single, single_where))
            merged.update(single)
        schema = schema_of(factory)
        for key, value in (protocol_settings or {}).items():
            if schema is not None and key in schema.settings and key not in merged:
                merged[key] = value
        check = getattr(factory, "check_settings", None)
        if callable(check):
            check({k: v for k, v in merged.items() if k not in HARNESS_KEYS}, workers=workers)
        resolved[label] = merged
    return resolved
