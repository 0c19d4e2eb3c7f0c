"""Model names -> adapter factories, imported lazily so a missing package hurts only its model."""

from __future__ import annotations

import importlib
from typing import Callable

from sseu_harness.adapter import Adapter
from sseu_harness.errors import ConfigError

BUILTIN: dict[str, str] = {
    "oracle": "model_adapters.oracle.adapter:OracleAdapter",
    "chance": "model_adapters.chance.adapter:ChanceAdapter",
}


def known_models() -> list[str]:
    return sorted(BUILTIN)


def adapter_factory(name: str) -> Callable[..., Adapter]:
    """Resolve a built-in name or ``package.module:factory``."""
    target = BUILTIN.get(name, name if ":" in name else None)
    if target is None:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(known_models())} "
            "(or give package.module:factory)"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model {name!r}: cannot import {module_name} ({exc}); install what it needs") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"model {name!r}: {module_name} has no {attr!r}") from None


def model_label(name: str) -> str:
    """The name used in case ids: the factory's last part for ``module:factory`` specs."""
    return name.rpartition(":")[2] if ":" in name else name
