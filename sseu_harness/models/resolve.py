"""Model specs as typed -> `ModelSpec`s (label, factory, settings), resolved once per process.

A spec is found in three places, in this order: the built-in names the caller
hands in (``model_adapters.registry.BUILTIN``); adapters that other packages
register under the entry-point group ``sseu_harness.models``
(``[project.entry-points."sseu_harness.models"] my-model = "pkg.module:Factory"``);
and a ``package.module:factory`` spec given directly. Factories are imported
lazily, so a missing package hurts only its model. Keeps to Python 3.10: the
model server imports it.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from sseu_harness.adapter import Adapter
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import PAPER_SYSTEM, check_paper_system, resolve_model_settings, schema_of

ENTRY_POINT_GROUP = "sseu_harness.models"


@dataclass(frozen=True)
class ModelSpec:
    """One selected model: what the options, the session, the store key and the meta all use."""

    spec: str  # as typed to --sseu-model
    label: str  # the name in case ids
    factory: Any  # an adapter class, or a `FunctionFactory`
    settings: dict  # the resolved user settings, as the store key hashes them
    paper_system: str | None = None  # the paper's system it is: the `paper_system` setting, else the adapter's

    def identity(self) -> dict:
        return self.factory.identity(self.settings)

    @property
    def decoding(self) -> str | None:
        """The ``decoding`` setting in effect (set, else the schema's default); None for a model without one."""
        schema = schema_of(self.factory)
        if "decoding" in self.settings:
            return self.settings["decoding"]
        return schema.settings["decoding"].default if schema is not None and "decoding" in schema.settings else None


def resolve_models(
    specs: list[str],
    builtin: Mapping[str, str],
    models_file: str | Path | None = None,
    single: Mapping[str, Any] | None = None,
    single_where: str = "--sseu-model-* options",
    workers: int = 1,
    protocol_settings: Mapping[str, Any] | None = None,
) -> list[ModelSpec]:
    """The selected models with their validated settings; plain functions are called here.

    `protocol_settings`: settings a protocol gives every model that declares them (`resolve_model_settings`)."""
    factories = {spec: find_factory(spec, builtin) for spec in specs}
    labels = {spec: label_of(spec, factory) for spec, factory in factories.items()}
    resolved = resolve_model_settings(specs, factories, labels, models_file, single, single_where, workers,
                                      protocol_settings)
    out = []
    for spec in specs:
        settings = dict(resolved[labels[spec]])
        named = settings.pop(PAPER_SYSTEM, None)
        factory = bind_factory(spec, factories[spec], settings)
        system = named or getattr(factory, "paper_system", None)
        if system is not None and not named:
            check_paper_system(system, f"model {spec}: the adapter's paper_system")
        out.append(ModelSpec(spec, labels[spec], factory, settings, system))
    return out


def entry_point_models() -> dict[str, str]:
    """Adapters registered by installed packages: name -> ``module:attr``."""
    try:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python < 3.10 signature; kept for the model server's old environments
        found = metadata.entry_points().get(ENTRY_POINT_GROUP, [])  # type: ignore[attr-defined]
    return {ep.name: ep.value for ep in found}


def known_models(builtin: Mapping[str, str]) -> list[str]:
    return sorted({**entry_point_models(), **builtin})


def find_factory(name: str, builtin: Mapping[str, str]) -> Callable[..., Adapter]:
    """Resolve a built-in name, an entry-point name, or ``package.module:factory``."""
    target = builtin.get(name) or entry_point_models().get(name) or (name if ":" in name else None)
    if target is None:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(known_models(builtin))} "
            "(or give package.module:factory)"
        )
    return load_target(name, target)


def load_target(name: str, target: str) -> Callable[..., Adapter]:
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


def label_of(spec: str, factory: Callable[..., Adapter]) -> str:
    """The case-id label of a model: its adapter's ``name``, else the spec's last part."""
    return getattr(factory, "name", None) or model_label(spec)


class FunctionFactory:
    """A plain function given as ``package.module:function``, standing in for an adapter class.

    It is called once per process, at session start, with the model's settings,
    and must return an `Adapter` without loading weights (load them on the first
    `answer`). What a class declares (tasks, modes, whether it listens) is read
    from the adapter it returned; its identity is ``module:function`` plus that
    adapter's declared ``settings`` and the settings it was called with.
    """

    def __init__(self, target: str, function: Callable[..., Adapter], settings: dict[str, Any]) -> None:
        self.target = target
        self.label = model_label(target)
        adapter = function(**settings)
        if not isinstance(adapter, Adapter):
            raise ConfigError(
                f"model {target}: the function returned {type(adapter).__name__}, not an adapter; return an instance "
                "of a sseu_harness.adapter.Adapter subclass (and load weights on its first answer, not before)"
            )
        self.adapter = adapter

    @property
    def listens(self) -> bool:
        return bool(self.adapter.listens)

    @property
    def paper_system(self) -> str | None:
        return self.adapter.paper_system

    def __call__(self, **_: Any) -> Adapter:
        return self.adapter

    def preflight(self, user_settings: dict) -> None:
        """Nothing to check: the function has already run."""

    def unsupported(self, task: str, mode: str) -> str | None:
        if task not in self.adapter.tasks:
            return f"{self.label} does not do {task}"
        if mode not in self.adapter.modes:
            return f"{self.label} does not support {mode} mode"
        return None

    def identity(self, user_settings: dict) -> dict:
        declared = self.adapter.settings
        return {
            "factory": self.target,
            "name": self.adapter.name,
            "sample_rate": self.adapter.sample_rate,
            "settings": declared if isinstance(declared, dict) else {},
            "user_settings": user_settings,
        }


def bind_factory(spec: str, factory: Callable[..., Adapter], settings: dict[str, Any]) -> Any:
    """An adapter class as it is; a plain function called now (`FunctionFactory`)."""
    if inspect.isclass(factory):
        return factory
    if callable(factory):
        module, _, attr = spec.partition(":")
        target = f"{module}:{attr}" if attr else f"{factory.__module__}:{factory.__qualname__}"
        return FunctionFactory(target, factory, settings)
    raise ConfigError(f"model {spec}: {factory!r} is neither an adapter class nor a function returning an adapter")
