"""Lazy imports of optional packages, failing with one line that names what to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from sseu_harness.errors import ConfigError


def require(module: str, model: str, install: str) -> ModuleType:
    """Import `module` for `model`, or raise a one-line ConfigError saying how to get it.

    `install` is the fix as a user types it ("pip install msclap", or where to
    get code that is not on PyPI). A package that is present but fails on one of
    its own imports is reported with the module that is really missing.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        root = module.partition(".")[0]
        missing = getattr(exc, "name", None) or root
        if missing.partition(".")[0] == root:
            message = f"model {model} needs package {root}: {install}"
        else:
            message = (
                f"model {model}: importing {module} failed because {missing} is missing "
                f"({exc}); install it in the environment that runs {model} ({install})"
            )
    raise ConfigError(message)  # outside the except block: one line, no chained traceback


def check_importable(module: str, model: str, install: str, path: str | None = None) -> None:
    """At start-up, without importing it: raise the same one-line error `require` would when `module` is absent.

    `path` is a folder the adapter will put on ``sys.path`` first (a cloned repository).
    """
    import importlib.util
    import sys

    added = bool(path) and path not in sys.path
    if added:
        sys.path.insert(0, str(path))
    try:
        found = importlib.util.find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):
        found = False
    finally:
        if added:
            sys.path.remove(str(path))
    if not found:
        raise ConfigError(f"model {model} needs package {module.partition('.')[0]}: {install}")
