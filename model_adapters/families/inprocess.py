"""What in-process model adapters share: settings resolution, start-up checks, identity.

An adapter class mixing in `InProcessModel` declares ``SETTINGS`` (a Schema),
``IDENTITY_KEYS`` (the settings that change answers) and, when it is a
language model, has decoding settings too. `identity` is computed from the
settings alone, before any weights are read, so stored answers can be found
(and re-scored) without loading the model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from model_adapters.families.text import GREEDY, decoding_summary
from model_adapters.utils.devices import check_workers_fit
from model_adapters.utils.hub import check_hub_weights, check_local_folder, looks_local
from sseu_harness.models.settings import Schema


def folder_fingerprint(folder: Path) -> str:
    """A cheap fingerprint of a local model folder: names, sizes and times of its files (not their bytes)."""
    entries = []
    for path in sorted(folder.iterdir()):
        if path.is_file():
            stat = path.stat()
            entries.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()[:16]


def file_fingerprint(path: Path, edge: int = 1 << 20) -> str:
    """A cheap fingerprint of one checkpoint file: its size and its first and last MiB.

    Checkpoints of one architecture share their size, not their weights;
    reading the ends costs milliseconds where hashing gigabytes costs
    seconds, and unlike a file time it is the same on every copy.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode("ascii"))
    with path.open("rb") as handle:
        digest.update(handle.read(edge))
        if size > edge:
            handle.seek(max(size - edge, edge))
            digest.update(handle.read(edge))
    return digest.hexdigest()[:16]


def files_fingerprint(values: Mapping[str, Any]) -> dict[str, str]:
    """Fingerprints of the local files and folders the settings name (weights, checkpoints), by setting."""
    out = {}
    for key, value in sorted(values.items()):
        path = Path(value).expanduser() if isinstance(value, str) and value else None
        if path is not None and value.startswith(("/", ".", "~")) and path.exists():
            out[key] = folder_fingerprint(path) if path.is_dir() else file_fingerprint(path)
    return out


class InProcessModel:
    name: str
    sample_rate: int
    SETTINGS: Schema
    IDENTITY_KEYS: tuple[str, ...] = ("model", "revision", "dtype")
    default_model: str = ""
    text_model = True  # has decoding settings
    HUB_FILE: str | None = None  # a file of every copy of the weights: set where `model` may be a hub id

    @classmethod
    def resolve(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        values = cls.SETTINGS.parse(cls.name, settings)
        if "model" in values and not values["model"]:
            values["model"] = cls.default_model
        return values

    @classmethod
    def serve_hint(cls) -> str:
        """How to evaluate this model without loading it in every worker (vLLM + the openai adapter)."""
        return (
            f"serve it once with `vllm serve {cls.default_model} --port 8000` and run "
            f"`--sseu-model=openai --sseu-base-url=http://127.0.0.1:8000/v1 --sseu-api-model={cls.default_model}`"
        )

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], workers: int = 1) -> None:
        values = cls.resolve(settings)
        if "device" in values:
            check_workers_fit(cls.name, values["device"], workers, cls.serve_hint())

    @classmethod
    def preflight(cls, settings: Mapping[str, Any]) -> None:
        """Refuse, before any weights load, a model folder that is missing or hub weights that cannot be had."""
        if cls.HUB_FILE is None:
            return
        values = cls.resolve(settings)
        model = values.get("model")
        if not model:
            return
        if looks_local(model):
            check_local_folder(cls.name, model, cls.HUB_FILE)
        else:
            check_hub_weights(cls.name, model, values.get("revision"), cls.HUB_FILE)

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: values.get(k) for k in cls.IDENTITY_KEYS if values.get(k) is not None}
        if isinstance(out.get("model"), str) and Path(out["model"]).is_dir():
            out["model"] = str(Path(out["model"]).resolve())
            out["model_files"] = folder_fingerprint(Path(out["model"]))
        if cls.text_model:
            out.update(decoding_summary(values, getattr(cls, "RECIPE", GREEDY)))
        else:
            out["deterministic"] = True
        return out

    @classmethod
    def identity(cls, user_settings: dict) -> dict:
        return {
            "adapter": f"{cls.__module__}.{cls.__qualname__}",
            "name": cls.name,
            "sample_rate": cls.sample_rate,
            "settings": cls.describe(cls.resolve(user_settings)),
        }
