"""Model names -> adapter factories, imported lazily so a missing package hurts only its model.

Three sources, in this order: the built-in adapters below; adapters that other
packages register under the entry-point group ``sseu_harness.models``
(``[project.entry-points."sseu_harness.models"] my-model = "pkg.module:Factory"``);
and a ``package.module:factory`` spec given directly to ``--sseu-model``.
"""

from __future__ import annotations

import importlib
import inspect
from importlib import metadata
from typing import Any, Callable

from sseu_harness.adapter import Adapter
from sseu_harness.errors import ConfigError

ENTRY_POINT_GROUP = "sseu_harness.models"

BUILTIN: dict[str, str] = {
    "oracle": "model_adapters.oracle.adapter:OracleAdapter",
    "chance": "model_adapters.chance.adapter:ChanceAdapter",
    "qwen2-audio": "model_adapters.qwen2_audio.adapter:Qwen2AudioAdapter",
    "kimi-audio": "model_adapters.kimi_audio.adapter:KimiAudioAdapter",
    "step-audio2": "model_adapters.step_audio2.adapter:StepAudio2Adapter",
    "ltu-as": "model_adapters.ltu_as.adapter:LtuAsAdapter",
    "clap": "model_adapters.clap.adapter:MsClapAdapter",
    "laion-clap": "model_adapters.laion_clap.adapter:LaionClapAdapter",
    "mga-clap": "model_adapters.mga_clap.adapter:MgaClapAdapter",
    "whisper": "model_adapters.whisper.adapter:WhisperAdapter",
    "faster-whisper": "model_adapters.faster_whisper.adapter:FasterWhisperAdapter",
    "openai": "model_adapters.openai_compatible.adapter:OpenAIChatAdapter",
}


def entry_point_models() -> dict[str, str]:
    """Adapters registered by installed packages: name -> ``module:attr``."""
    try:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python < 3.10 signature; kept for the model server's old environments
        found = metadata.entry_points().get(ENTRY_POINT_GROUP, [])  # type: ignore[attr-defined]
    return {ep.name: ep.value for ep in found if ep.name not in BUILTIN}


def known_models() -> list[str]:
    return sorted({**BUILTIN, **entry_point_models()})


def adapter_factory(name: str) -> Callable[..., Adapter]:
    """Resolve a built-in name, an entry-point name, or ``package.module:factory``."""
    target = BUILTIN.get(name) or entry_point_models().get(name) or (name if ":" in name else None)
    if target is None:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(known_models())} "
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


def model_label(name: str) -> str:
    """The name used in case ids: the factory's last part for ``module:factory`` specs."""
    return name.rpartition(":")[2] if ":" in name else name


def label_of(spec: str, factory: Callable[..., Adapter]) -> str:
    """The case-id label of a model: its adapter's ``name``, else the spec's last part."""
    return getattr(factory, "name", None) or model_label(spec)
