"""Command-line options of the plugin and their translation into a `BenchConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sseu_harness.dataset.preflight import DEFAULT_MAX_CLIP_SECONDS
from sseu_harness.run.config import BenchConfig
from sseu_harness.scoring.normalizer import DEFAULT_NORMALIZER, NORMALIZERS
from sseu_harness.spec.prompts import DEFAULT_PROMPTS

if TYPE_CHECKING:
    from sseu_harness.models.resolve import ModelSpec

DEFAULT_REPORT_DIR = "sseu-report"
DEFAULT_CACHE_DIR = ".sseu-cache"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sseu", "SSEU-Bench: speech, scene and event understanding")
    add = group.addoption
    add("--sseu-model", action="append", default=[], metavar="NAME",
        help="model(s) to benchmark: a name, a comma list, or repeat the option; "
             "switches the session from the project's tests to the benchmark cases")
    add("--sseu-data", metavar="PATH", default=None,
        help="manifest file or a set's folder (default: the built-in demo set)")
    add("--sseu-allow-roots", action="store_true",
        help="let the manifest header's roots reach folders outside the set's folder (e.g. corpora read in place "
             "by `sseu build`); without it such a manifest is refused")
    add("--sseu-max-clip-seconds", type=float, default=DEFAULT_MAX_CLIP_SECONDS, metavar="S",
        help=f"refuse, before any model loads, clips longer than this (default {DEFAULT_MAX_CLIP_SECONDS:g} s)")
    add("--sseu-tasks", metavar="LIST", default=None, help="comma list of ASR, ASC, AT (default: all)")
    add("--sseu-snrs", metavar="LIST", default=None,
        help="comma list of SNR labels or dB values, e.g. snr_p10,-5,snr_minf (default: all of the data set)")
    add("--sseu-modes", metavar="LIST", default=None, help="comma list of independent, joint, cot (default: all)")
    add("--sseu-runs", type=int, default=None, metavar="N",
        help="repeated runs per case; cells show mean ± std (default 1; --sseu-protocol paper: 3, CLAP baselines 1)")
    add("--sseu-seed", type=int, default=0, metavar="N", help="seed of run 1; run k uses seed + k - 1")
    add("--sseu-embedder", default=None, metavar="SPEC",
        help="text embedder for scoring: minilm (offline, default) or openai[:MODEL] (key from OPENAI_API_KEY; "
             "--sseu-protocol paper: openai:text-embedding-3-large)")
    add("--sseu-protocol", default=None, metavar="NAME",
        help="harness (default: this harness's defaults) or paper: the paper's runs, each model's own decoding "
             "and the paper's embedder; options given explicitly win (also a models-file key: protocol)")
    add("--sseu-normalizer", default=DEFAULT_NORMALIZER, metavar="NAME",
        help=f"text normaliser applied before WER: {' or '.join(NORMALIZERS)} (default {DEFAULT_NORMALIZER}: "
             "Whisper's English normaliser)")
    add("--sseu-cache-dir", default=DEFAULT_CACHE_DIR, metavar="DIR", help="on-disk caches (embeddings)")
    add("--sseu-report-dir", default=DEFAULT_REPORT_DIR, metavar="DIR",
        help=f"where summary.json/.md/.csv and predictions.jsonl go (default: ./{DEFAULT_REPORT_DIR})")
    add("--sseu-prompts", default=str(DEFAULT_PROMPTS), metavar="FILE", help="prompt set (TOML)")
    # Model settings (docs/models/index.md): a models file for any number of models; the options below
    # configure the one selected model and override the file. API keys only from the environment.
    add("--sseu-models-file", default=None, metavar="FILE",
        help="TOML file with a [models.<name>] table of settings per model (model, revision, dtype, device, ...)")
    add("--sseu-model-path", default=None, metavar="ID_OR_PATH", help="the model's weights: hub id or local folder")
    add("--sseu-model-revision", default=None, metavar="REV", help="hub revision (branch, tag or commit)")
    add("--sseu-base-url", action="append", default=None, metavar="URL",
        help="endpoint of a served model, e.g. http://127.0.0.1:8000/v1 (openai, kimi-audio, ltu-as, step-audio2); "
             "several replicas: a comma list or repeat the option (each request goes to the least-busy one)")
    add("--sseu-api-model", default=None, metavar="NAME", help="the served model's name at --sseu-base-url")
    add("--sseu-api-key-env", default=None, metavar="VAR",
        help="name of the environment variable holding the endpoint's API key (default OPENAI_API_KEY)")
    add("--sseu-batch-size", type=int, default=None, metavar="N", help="clips per model call")
    add("--sseu-device", default=None, metavar="DEV", help="auto, cpu, cuda or cuda:N (in-process models)")
    add("--sseu-dtype", default=None, metavar="DTYPE", help="auto, float32, float16 or bfloat16")
    add("--sseu-max-new-tokens", type=int, default=None, metavar="N", help="token budget of every answer")
    add("--sseu-model-set", action="append", default=[], metavar="KEY=VALUE",
        help="any other setting of the selected model (repeatable; values are TOML literals or strings)")
    add("--sseu-store", default=None, metavar="FILE",
        help="prediction store (SQLite) that keeps every answer for reruns (default: CACHE_DIR/predictions.sqlite)")
    add("--sseu-no-store", action="store_true", help="neither read nor write the prediction store")
    add("--sseu-rescore", action="store_true",
        help="score the answers in the prediction store without loading any model; missing answers are an error")
    add("--sseu-timeout", type=float, default=600.0, metavar="S",
        help="seconds one model call (a batch) may take before its clips count as failed; 0 = no limit")
    add("--sseu-max-error-rate", type=float, default=0.05, metavar="FRACTION",
        help="fail a case when more than this fraction of its model calls fail (default 0.05)")
    add("--sseu-max-parse-failure-rate", type=float, default=1.0, metavar="FRACTION",
        help="fail a case when more than this fraction of its answers cannot be parsed (default 1: never)")
    # Release gates and statistics (docs/gates.md)
    add("--sseu-thresholds", default=None, metavar="FILE",
        help="TOML file of [[bound]] tables: a case breaching its bound fails; bounds on avg/avg_mixed are own entries")
    add("--sseu-baseline", default=None, metavar="DIR",
        help="report dir or run folder of an earlier run, or 'previous' (the report dir's latest run): "
             "fail cases that got worse by more than the margin, significantly")
    add("--sseu-margin", type=float, default=1.0, metavar="POINTS",
        help="how many points worse a case may get before the baseline gate looks at significance (default 1)")
    add("--sseu-bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for intervals and the gate")
    add("--sseu-bootstrap-seed", type=int, default=0, metavar="N", help="seed of the bootstrap resamples")
    # Report history and terminal (docs/results.md, "Run history")
    add("--sseu-keep-runs", type=int, default=None, metavar="N",
        help="keep only the newest N run folders of the report dir (the latest complete run always stays)")
    add("--sseu-ci", action="store_true", help="terminal tables also show the 95%% bootstrap interval of each cell")
    add("--sseu-no-hearing-check", action="store_true",
        help="skip the hearing gate, which fails a model whose answers do not depend on the audio")
    add("--sseu-shard", default=None, metavar="K/N",
        help="run shard K of N (1-based): a deterministic 1/N of the cases; join the reports with `sseu merge`")


def selected_models(config: pytest.Config) -> list[str]:
    models: list[str] = []
    for value in config.getoption("sseu_model") or []:
        for name in value.split(","):
            if name.strip() and name.strip() not in models:
                models.append(name.strip())
    return models


def bench_config(config: pytest.Config) -> BenchConfig:
    from sseu_harness.run.protocol import check_key, choose

    opt = config.getoption
    name = protocol(config)
    check_key(name, opt("sseu_embedder"))  # before any model is resolved
    selected = models(config, name)
    chosen = choose(name, selected, opt("sseu_runs"), opt("sseu_embedder"))
    return BenchConfig(
        models=tuple(selected),
        data=opt("sseu_data"),
        allow_roots=opt("sseu_allow_roots"),
        max_clip_seconds=opt("sseu_max_clip_seconds"),
        tasks=opt("sseu_tasks"),
        snrs=opt("sseu_snrs"),
        modes=opt("sseu_modes"),
        runs=chosen.runs,
        model_runs=chosen.model_runs,
        protocol=chosen.name,
        seed=opt("sseu_seed"),
        embedder=chosen.embedder,
        normalizer=opt("sseu_normalizer"),
        cache_dir=Path(opt("sseu_cache_dir")),
        prompts=Path(opt("sseu_prompts")),
        store=None if opt("sseu_no_store") else Path(opt("sseu_store") or Path(opt("sseu_cache_dir")) / "predictions.sqlite"),
        rescore=opt("sseu_rescore"),
        timeout=opt("sseu_timeout") or None,
        max_error_rate=opt("sseu_max_error_rate"),
        max_parse_failure_rate=opt("sseu_max_parse_failure_rate"),
    )


def report_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("sseu_report_dir"))


def keep_runs(config: pytest.Config) -> int | None:
    """--sseu-keep-runs N, N >= 1, or None (keep every run)."""
    keep = config.getoption("sseu_keep_runs")
    if keep is not None and keep < 1:
        raise pytest.UsageError(f"--sseu-keep-runs {keep}: keep at least 1 run (leave the option out to keep all)")
    return keep


# Single-model options -> setting names.
OPTION_SETTINGS = {
    "sseu_model_path": "model",
    "sseu_model_revision": "revision",
    "sseu_base_url": "base_url",
    "sseu_api_model": "api_model",
    "sseu_api_key_env": "api_key_env",
    "sseu_batch_size": "batch_size",
    "sseu_device": "device",
    "sseu_dtype": "dtype",
    "sseu_max_new_tokens": "max_new_tokens",
}


def protocol(config: pytest.Config) -> str:
    """--sseu-protocol, else the models file's ``protocol`` key, else ``harness``."""
    from sseu_harness.models.settings import models_file_protocol
    from sseu_harness.run.protocol import HARNESS, check_protocol

    given, models_file = config.getoption("sseu_protocol"), config.getoption("sseu_models_file")
    if given is not None:
        return check_protocol(given, "--sseu-protocol")
    from_file = models_file_protocol(models_file) if models_file else None
    return check_protocol(from_file, f"models file {models_file}") if from_file is not None else HARNESS


def models(config: pytest.Config, protocol_name: str = "harness") -> list[ModelSpec]:
    """The selected models resolved with their settings, from --sseu-models-file and the single-model options,
    with the settings the protocol gives (`sseu_harness.run.protocol.protocol_settings`)."""
    from model_adapters.registry import BUILTIN
    from sseu_harness.models.resolve import resolve_models
    from sseu_harness.models.settings import parse_assignments
    from sseu_harness.run.protocol import protocol_settings

    specs = selected_models(config)
    if not specs:
        return []
    single = {key: config.getoption(dest) for dest, key in OPTION_SETTINGS.items()
              if config.getoption(dest) is not None}
    if isinstance(single.get("base_url"), list):  # repeated --sseu-base-url: replicas of one served model
        single["base_url"] = ",".join(single["base_url"])
    single.update(parse_assignments(config.getoption("sseu_model_set") or [], "--sseu-model-set"))
    workers = config.getoption("numprocesses", None) if config.pluginmanager.hasplugin("xdist") else None
    workers = workers if isinstance(workers, int) and workers > 0 else 1
    return resolve_models(specs, BUILTIN, config.getoption("sseu_models_file"), single, workers=workers,
                          protocol_settings=protocol_settings(protocol_name))


def shard(config: pytest.Config) -> tuple[int, int] | None:
    """(k, n) from --sseu-shard K/N, 1 <= K <= N."""
    text = config.getoption("sseu_shard")
    if not text:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--sseu-shard {text!r}: write K/N, e.g. 2/4 for the second of four shards") from None
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--sseu-shard {text!r}: K must be between 1 and N")
    return k, n
