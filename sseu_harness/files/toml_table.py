"""Reading the harness's own TOML data files (parser labels, refusal phrases) strictly, with errors that name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sseu_harness.errors import ConfigError


def read_table(path: Path, what: str, known: tuple[str, ...]) -> dict:
    """The file's top-level table; an unreadable file or an unknown key is a `ConfigError` naming the fix."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    for key in raw:
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r}; fix: use one of the known keys: {', '.join(known)}")
    return raw
