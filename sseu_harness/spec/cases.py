"""The benchmark grid: one case per (model, task, SNR, mode)."""

from __future__ import annotations

from dataclasses import dataclass

from sseu_harness.errors import ConfigError
from sseu_harness.spec.snr import parse_snr, snr_label, sort_key, tasks_at
from sseu_harness.spec.tasks import MODES, TASK, TASKS


@dataclass(frozen=True)
class Case:
    model: str
    task: str
    snr: str  # label, e.g. snr_m10
    mode: str

    @property
    def id(self) -> str:
        return f"{self.model}-{self.task}-{self.snr}-{self.mode}"

    @property
    def snr_db(self) -> float:
        return parse_snr(self.snr)

    @property
    def metric(self) -> str:
        return TASK[self.task].metric

    @property
    def group(self) -> str:
        """Cases that share one model answer per clip (joint and CoT modes) share a group."""
        if self.mode == "independent":
            return self.id
        return f"{self.model}-{self.snr}-{self.mode}"


def build_cases(
    models: list[str],
    snr_labels: list[str],
    tasks: list[str] | tuple[str, ...] = TASKS,
    modes: list[str] | tuple[str, ...] = MODES,
) -> list[Case]:
    """Cases ordered so that a group's cases are adjacent (model, SNR, mode, task)."""
    cases = []
    for model in models:
        for snr in sorted(snr_labels, key=sort_key):
            for mode in MODES:
                if mode not in modes:
                    continue
                for task in TASKS:
                    if task in tasks and task in tasks_at(parse_snr(snr)):
                        cases.append(Case(model, task, snr, mode))
    return cases


def parse_choice_list(text: str | None, known: tuple[str, ...], option: str) -> list[str]:
    """A comma list of known values (case-insensitive for tasks); None or '' = all."""
    if not text:
        return list(known)
    by_lower = {k.lower(): k for k in known}
    chosen = []
    for raw in text.split(","):
        value = by_lower.get(raw.strip().lower())
        if value is None:
            raise ConfigError(f"{option}: unknown value {raw.strip()!r}; choose from {', '.join(known)}")
        if value not in chosen:
            chosen.append(value)
    return chosen


def parse_snr_list(text: str | None, available: list[str], option: str = "--sseu-snrs") -> list[str]:
    """SNRs given as labels or dB values, restricted to those the data set has."""
    if not text:
        return list(available)
    chosen = []
    for raw in text.split(","):
        label = snr_label(parse_snr(raw))
        if label not in available:
            raise ConfigError(f"{option}: {raw.strip()!r} ({label}) is not an SNR of this data set; it has {', '.join(available)}")
        if label not in chosen:
            chosen.append(label)
    return chosen


def shard_cases(cases: list[Case], k: int, n: int) -> list[Case]:
    """Shard k of n (1-based): whole answer-sharing groups, dealt round-robin in grid order."""
    groups = list(dict.fromkeys(case.group for case in cases))
    mine = {group for index, group in enumerate(groups) if index % n == k - 1}
    return [case for case in cases if case.group in mine]
