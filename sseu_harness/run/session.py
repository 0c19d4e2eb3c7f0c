"""One process's benchmark state: data, prompts, mixer, scorer and models, loaded once.

The pytest plugin holds one `Bench` per process (controller or xdist worker)
and asks it to run cases; a CLI can do the same without pytest.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from functools import cached_property

from sseu_harness import __version__
from sseu_harness.adapter import Adapter
from sseu_harness.dataset.manifest import Item, Manifest, load_manifest
from sseu_harness.dataset.mixer import MIXER_VERSION, Mixer
from sseu_harness.dataset.preflight import check_audio_files, check_items
from sseu_harness.errors import ConfigError
from sseu_harness.numbers import is_finite_number
from sseu_harness.models.resolve import FunctionFactory, ModelSpec
from sseu_harness.results.records import Record, case_record
from sseu_harness.run.config import BenchConfig
from sseu_harness.run.inference import AnswerSource, ModelSlot, Progress
from sseu_harness.run.store import PredictionStore
from sseu_harness.scoring.confidences import Scorer
from sseu_harness.scoring.embedders.registry import make_embedder
from sseu_harness.scoring.normalizer import get_normalizer
from sseu_harness.scoring.parser import PARSER_VERSION
from sseu_harness.scoring.rows import ClipRow, count_rows
from sseu_harness.scoring.slices import evaluate_slice
from sseu_harness.spec.cases import Case, build_cases, parse_choice_list, parse_snr_list
from sseu_harness.spec.prompts import PromptSet, hashed, load_prompts
from sseu_harness.spec.snr import PAPER_SNRS_DB, parse_snr, snr_label, sort_key, tasks_at
from sseu_harness.spec.tasks import MODES, TASKS
from sseu_harness.spec.taxonomy import load_taxonomy


class Bench:
    def __init__(self, config: BenchConfig, check_inputs: bool = True) -> None:
        """`check_inputs`: before any model is constructed, refuse unreadable audio, items that cannot be mixed
        or scored, and weights that cannot be had (the controller checks; xdist workers, started after it, skip
        it). Under rescore only the references are checked: neither audio nor weights are read."""
        if min([config.runs, *config.model_runs.values()]) < 1:
            raise ConfigError(f"--sseu-runs must be at least 1, got {config.runs}")
        if not is_finite_number(config.max_clip_seconds) or config.max_clip_seconds <= 0:
            raise ConfigError(f"--sseu-max-clip-seconds must be a positive number of seconds, "
                              f"got {config.max_clip_seconds}")
        for option, rate in (("--sseu-max-error-rate", config.max_error_rate),
                             ("--sseu-max-parse-failure-rate", config.max_parse_failure_rate)):
            if not is_finite_number(rate) or not 0 <= rate <= 1:  # NaN would let every case pass
                raise ConfigError(f"{option} must be a fraction from 0 to 1, got {rate}")
        if config.timeout is not None and (not is_finite_number(config.timeout) or config.timeout < 0):
            raise ConfigError(f"--sseu-timeout must be a number of seconds (0: no limit), got {config.timeout}")
        self.config = config
        self.normalizer = get_normalizer(config.normalizer)
        self.taxonomy = load_taxonomy()
        self.manifest: Manifest = load_manifest(config.data, self.taxonomy, config.allow_roots)
        self.prompts: PromptSet = load_prompts(config.prompts)
        self.mixer = Mixer(self.manifest)
        self.tasks = parse_choice_list(config.tasks, TASKS, "--sseu-tasks")
        self.modes = parse_choice_list(config.modes, MODES, "--sseu-modes")
        self.snrs = parse_snr_list(config.snrs, self.available_snrs)
        self.models: dict[str, ModelSpec] = {model.label: model for model in config.models}
        if check_inputs:
            self._check_inputs(audio=not config.rescore)
        self.embedder = make_embedder(config.embedder, config.cache_dir)  # loads its model on first use
        self._adapters: dict[str, Adapter] = {}
        self._identities: dict[str, dict] = {}
        store = PredictionStore(config.store) if config.store else None
        self.answers = AnswerSource(self.mixer, store, config.timeout, config.rescore)

    def _check_inputs(self, audio: bool) -> None:
        """Audio headers of every file the grid's runnable cases need, what the manifest and the headers
        show about their items, then each model's weights; without `audio` (rescore), only the references.

        A plain function's cases all count: what it supports is not declared up front."""
        snrs, asr_snrs = set(), set()
        for case in self.cases():
            factory = self.models[case.model].factory
            if isinstance(factory, FunctionFactory) or factory.unsupported(case.task, case.mode) is None:
                snrs.add(case.snr)
                if case.task == "ASR":
                    asr_snrs.add(case.snr)
        slices = [(snr, self.items_at(snr)) for snr in sorted(snrs, key=sort_key)]
        headers = check_audio_files(self.manifest, slices) if audio else None
        check_items(self.manifest, slices, headers, asr_snrs, self.normalizer.apply, self.config.max_clip_seconds)
        if not audio:
            return
        for model in self.models.values():
            preflight = getattr(model.factory, "preflight", None)
            if callable(preflight):
                preflight(model.settings)

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + run for run in range(self.config.runs)]

    def seeds_of(self, model: str) -> list[int]:
        """The run seeds of one model: `seeds`, or fewer where the protocol gives it its own number of runs."""
        return [self.config.seed + run for run in range(self.runs_of(model))]

    def runs_of(self, model: str) -> int:
        return self.config.model_runs.get(model, self.config.runs)

    @cached_property
    def available_snrs(self) -> list[str]:
        """The data set's SNR grid: the header's ``snrs`` (labels or dB) or the paper's seven."""
        if self.manifest.snrs is not None:
            labels = set(self.manifest.snrs)
        else:
            labels = {label for item in self.manifest.items for label in (item.premixed or ())}
            if any(item.has_sources for item in self.manifest.items):
                labels.update(snr_label(db) for db in PAPER_SNRS_DB)
        return sorted(labels, key=sort_key)

    def items_at(self, snr: str) -> tuple[Item, ...]:
        """The clips of a case's slice: every item that exists at this SNR."""
        return tuple(item for item in self.manifest.items if item.available_at(snr))

    def task_snrs(self) -> dict[str, list[str]]:
        """Each task's SNR columns in the data's grid: what ``avg`` spans."""
        return {t: [s for s in self.available_snrs if t in tasks_at(parse_snr(s))] for t in TASKS}

    def cases(self) -> list[Case]:
        return build_cases(list(self.models), self.snrs, self.tasks, self.modes)

    def unsupported(self, case: Case) -> str | None:
        return self.models[case.model].factory.unsupported(case.task, case.mode)

    def adapter(self, model: str) -> Adapter:
        if model not in self._adapters:
            spec = self.models[model]
            adapter = spec.factory(**spec.settings)
            if self.runs_of(model) > 1 and adapter.deterministic:
                warnings.warn(
                    f"{model} decodes greedily: its {self.runs_of(model)} runs will give identical answers "
                    "(std 0); enable sampling in its settings to measure run-to-run variation",
                    stacklevel=2,
                )
            self._adapters[model] = adapter
        return self._adapters[model]

    @cached_property
    def scorer(self) -> Scorer:
        return Scorer(self.embedder, self.taxonomy)

    def identity(self, model: str) -> dict:
        """A model's identity, computed once a session: a served model's asks its server what it serves."""
        if model not in self._identities:
            self._identities[model] = self.models[model].identity()
        return self._identities[model]

    def slot(self, model: str) -> ModelSlot:
        spec = self.models[model]
        return ModelSlot(model, spec.factory, self.identity(model), lambda: self.adapter(model))

    def plan(self, cases: list[Case]) -> None:
        """Announce the cases this process will run, in order: their clips stream to the model without gaps."""
        for case in cases:
            if self.unsupported(case):
                continue
            slot, items = self.slot(case.model), self.items_at(case.snr)
            prompt = self.prompts.prompt(case.task, case.mode, case.model)
            for seed in self.seeds_of(case.model):
                self.answers.plan(slot, items, case, prompt, seed)

    def run_case(self, case: Case, progress: Progress | None = None) -> tuple[Record, list[ClipRow]]:
        """(record, per-clip prediction rows) of one case over all runs.

        ``seconds``: the model time charged to the case (docs/performance.md) plus its own scoring time.
        """
        slot = self.slot(case.model)
        items = self.items_at(case.snr)
        prompt = self.prompts.prompt(case.task, case.mode, case.model)
        values, rows, first_errors, from_store, seconds = [], [], [], 0, 0.0
        seeds = self.seeds_of(case.model)
        for run, seed in enumerate(seeds):
            got = self.answers.answers(slot, items, case, prompt, seed, progress)
            started = time.perf_counter()
            result = evaluate_slice(case, run, seed, items, got.answers, self.scorer, self.normalizer)
            values.append(result.value)
            first_errors += result.first_errors
            from_store += got.from_store
            rows += result.rows
            seconds += got.model_seconds + time.perf_counter() - started
        counts = count_rows(rows)
        record = case_record(
            case, values, seeds, len(items), counts.parse_failures, seconds, refusals=counts.refusals,
            errors=counts.errors,
            first_errors=first_errors[:3],
            from_store=from_store,
            prompt_sha256=hashlib.sha256(hashed(prompt).encode("utf-8")).hexdigest(),
            prompt_set=self.prompts.version,
            normalizer=self.normalizer.id,
        )
        return record, rows

    def meta(self) -> dict:
        """What a summary needs to be reproduced: versions and hashes of everything that shapes a number."""
        meta = {
            "harness_version": __version__,
            "manifest": {"name": self.manifest.name, "path": str(self.manifest.path),
                         "sha256": self.manifest.sha256, "items": len(self.manifest.items)},
            "prompts": {"version": self.prompts.version, "sha256": self.prompts.sha256},
            "normalizer": self.normalizer.id,
            "parser": PARSER_VERSION,
            "taxonomy": self.taxonomy.version,
            "embedder": self.embedder.name,
            "mixer": MIXER_VERSION,
            "seeds": self.seeds,
            "task_snrs": self.task_snrs(),
            "runs": self.config.runs,
            "models": {label: {"spec": model.spec, "listens": bool(getattr(model.factory, "listens", True)),
                               **self.identity(label), **self._paper_meta(model)}
                       for label, model in self.models.items()},
        }
        if self.config.protocol != "harness":  # absent under the default, so default reports stay as they were
            meta["protocol"] = self.config.protocol
        return meta

    def _paper_meta(self, model: ModelSpec) -> dict:
        """For a model that names a paper system: what the report compares with the paper's protocol."""
        if model.paper_system is None:
            return {}
        return {"paper_system": model.paper_system, "decoding": model.decoding, "runs": self.runs_of(model.label)}

    def close(self) -> None:
        self.answers.close()
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()
