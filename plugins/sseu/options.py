"""Command-line options of the plugin and their translation into a `BenchConfig`."""

from __future__ import annotations

from pathlib import Path

import pytest

from sseu_harness.config import BenchConfig
from sseu_harness.prompts import DEFAULT_PROMPTS

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
    add("--sseu-tasks", metavar="LIST", default=None, help="comma list of ASR, ASC, AT (default: all)")
    add("--sseu-snrs", metavar="LIST", default=None,
        help="comma list of SNR labels or dB values, e.g. snr_p10,-5,snr_minf (default: all of the data set)")
    add("--sseu-modes", metavar="LIST", default=None, help="comma list of independent, joint, cot (default: all)")
    add("--sseu-runs", type=int, default=1, metavar="N", help="repeated runs per case; cells show mean ± std")
    add("--sseu-seed", type=int, default=0, metavar="N", help="seed of run 1; run k uses seed + k - 1")
    add("--sseu-embedder", default="minilm", metavar="SPEC",
        help="text embedder for scoring: minilm (offline, default) or openai[:MODEL] (key from OPENAI_API_KEY)")
    add("--sseu-cache-dir", default=DEFAULT_CACHE_DIR, metavar="DIR", help="on-disk caches (embeddings)")
    add("--sseu-report-dir", default=DEFAULT_REPORT_DIR, metavar="DIR",
        help=f"where summary.json/.md/.csv and predictions.jsonl go (default: ./{DEFAULT_REPORT_DIR})")
    add("--sseu-prompts", default=str(DEFAULT_PROMPTS), metavar="FILE", help="prompt set (TOML)")
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


def selected_models(config: pytest.Config) -> list[str]:
    models: list[str] = []
    for value in config.getoption("sseu_model") or []:
        for name in value.split(","):
            if name.strip() and name.strip() not in models:
                models.append(name.strip())
    return models


def bench_config(config: pytest.Config) -> BenchConfig:
    opt = config.getoption
    return BenchConfig(
        models=tuple(selected_models(config)),
        data=opt("sseu_data"),
        tasks=opt("sseu_tasks"),
        snrs=opt("sseu_snrs"),
        modes=opt("sseu_modes"),
        runs=opt("sseu_runs"),
        seed=opt("sseu_seed"),
        embedder=opt("sseu_embedder"),
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
