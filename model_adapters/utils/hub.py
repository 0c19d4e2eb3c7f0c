"""Start-up check of Hugging Face weights: in the local cache, or at least reachable.

Without it a model whose weights cannot be had fails once per case, each time
with transformers' long ``OSError: We couldn't connect...``. Here the session
is refused once, before anything loads, with the model id and the two fixes
(fetch the weights, or point at a local folder). The check reads the local
cache only; when the weights are not there it asks the hub once, with a short
timeout, unless ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

from sseu_harness.errors import ConfigError

PROBE_TIMEOUT = 3.0  # seconds: the hub answers in well under a second when it is reachable
_TRUE = ("1", "true", "yes", "on")


def offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it (the environment, also when set after import)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(constants.HF_HUB_OFFLINE)


def looks_local(model: str) -> bool:
    """A folder rather than a hub id: it exists, or it is written as a path (hub ids are ``owner/name``)."""
    return Path(model).expanduser().exists() or model.startswith(("/", ".", "~")) or model.count("/") > 1


def check_local_folder(name: str, model: str, required: str) -> None:
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"model {name}: the model folder {model} does not exist; check --sseu-model-path "
                          "(or the models file's `model`)")
    if not (folder / required).is_file():
        raise ConfigError(f"model {name}: {model} has no {required}; point at the folder that holds the weights")


def fix_hint(repo_id: str) -> str:
    return (f"fetch them on a machine with access to the hub (`hf download {repo_id}`, then copy the "
            "Hugging Face cache, ~/.cache/huggingface, or set HF_HOME to it), or point at a local folder "
            "with --sseu-model-path=/path/to/folder")


def in_cache(repo_id: str, filename: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, filename, revision=revision), str)


def check_hub_weights(name: str, repo_id: str, revision: str | None, filename: str = "config.json") -> None:
    """Refuse `repo_id` when its `filename` is neither cached nor fetchable; return quietly otherwise."""
    if in_cache(repo_id, filename, revision):
        return
    where = f"{repo_id}" + (f" (revision {revision})" if revision else "")
    if offline():
        raise ConfigError(f"model {name}: the weights of {where} are not in the local Hugging Face cache and "
                          f"HF_HUB_OFFLINE is set; {fix_hint(repo_id)}")
    reason = _probe(repo_id, revision)
    if reason:
        raise ConfigError(f"model {name}: the weights of {where} are not in the local Hugging Face cache and the "
                          f"hub cannot be reached ({reason}); {fix_hint(repo_id)}")


def _probe(repo_id: str, revision: str | None) -> str | None:
    """None when the hub serves `repo_id`; else why not, as one line (or a ConfigError for a wrong id)."""
    try:
        from huggingface_hub import HfApi, errors
    except ImportError:
        return "huggingface_hub is not installed: pip install huggingface_hub"
    try:
        HfApi().model_info(repo_id, revision=revision, timeout=PROBE_TIMEOUT)
    except errors.GatedRepoError:
        raise ConfigError(f"{repo_id} is gated on the hub: accept its licence at https://huggingface.co/{repo_id} "
                          "and log in (`hf auth login`), or point at a local folder") from None
    except errors.RepositoryNotFoundError:
        raise ConfigError(f"there is no model {repo_id} on the hub (or it is private: log in with `hf auth login`); "
                          "check the id, or point at a local folder with --sseu-model-path") from None
    except errors.RevisionNotFoundError:
        raise ConfigError(f"{repo_id} has no revision {revision!r} on the hub; check --sseu-model-revision") from None
    except Exception as exc:  # noqa: BLE001 - any transport failure means "not reachable"
        return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
    return None
