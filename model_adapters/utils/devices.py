"""Which device an in-process model runs on, one GPU per pytest-xdist worker.

``device = "auto"`` (the default) takes a GPU when there is one, else the CPU;
``"cuda"`` insists on a GPU. Under pytest-xdist, worker ``gwN`` takes GPU N,
so ``-n 4`` on a 4-GPU machine loads four copies, one per GPU. With more
workers than GPUs each extra worker would load another copy onto a busy GPU:
that is refused with the way out (fewer workers, or serve the model once with
vLLM and point the ``openai`` adapter at it). An explicit ``"cuda:K"`` or
``"cpu"`` is taken as given.
"""

from __future__ import annotations

import os
import re

from sseu_harness.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda")
_EXPLICIT = re.compile(r"^(cpu|cuda:\d+|mps)$")


def cuda_device_count() -> int:
    """Visible CUDA devices (honours CUDA_VISIBLE_DEVICES); 0 without torch or CUDA."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def xdist_worker() -> tuple[int | None, int]:
    """(this worker's index, worker count) from PYTEST_XDIST_WORKER=gwN; (None, 1) outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    match = re.fullmatch(r"gw(\d+)", worker)
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return (int(match.group(1)), max(count, 1)) if match else (None, 1)


def check_device_setting(model: str, device: str) -> None:
    if device not in DEVICE_CHOICES and not _EXPLICIT.match(device):
        raise ConfigError(f"model {model}: device must be auto, cpu, cuda or cuda:N, got {device!r}")


def check_workers_fit(model: str, device: str, workers: int, serve_hint: str, gpus: int | None = None) -> None:
    """Refuse more xdist workers than GPUs for a model that each worker loads onto a GPU of its own."""
    check_device_setting(model, device)
    if device not in ("auto", "cuda") or workers <= 1:
        return
    gpus = cuda_device_count() if gpus is None else gpus
    if gpus == 0:
        if device == "cuda":
            raise ConfigError(f"model {model}: device cuda was asked for but no CUDA GPU is visible")
        return  # auto on a CPU machine: every worker runs on the CPU
    if workers > gpus:
        raise ConfigError(
            f"model {model} runs in-process on one GPU per pytest-xdist worker, but {workers} workers share "
            f"{gpus} GPU(s); run with -n {gpus} (or fewer), or serve the model once and evaluate it over HTTP: "
            f"{serve_hint}"
        )


def choose_device(
    model: str,
    device: str,
    serve_hint: str,
    worker: int | None = None,
    workers: int | None = None,
    gpus: int | None = None,
) -> str:
    """The torch device string for this process (see the module docstring)."""
    check_device_setting(model, device)
    if device not in ("auto", "cuda"):
        return device
    if worker is None and workers is None:
        worker, workers = xdist_worker()
    workers = workers or 1
    gpus = cuda_device_count() if gpus is None else gpus
    if gpus == 0:
        if device == "cuda":
            raise ConfigError(f"model {model}: device cuda was asked for but no CUDA GPU is visible")
        return "cpu"
    check_workers_fit(model, device, workers, serve_hint, gpus=gpus)
    return f"cuda:{worker or 0}"
