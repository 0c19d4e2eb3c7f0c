"""Release bounds from a TOML file into `Bound` data; `gates.py` judges records against them.

    [[bound]]
    model = "qwen2-audio"   # optional: every model when left out
    task = "ASR"            # required: ASR, ASC or AT
    snr = "snr_m10"         # optional: an SNR label, "avg" or "avg_mixed"; every case SNR when left out
    mode = "independent"    # optional: every mode when left out
    metric = "WER"          # optional: must be the task's metric
    limit = 25.0            # required: WER must stay <= limit, mACC and mAP >= limit

The direction is the metric's (WER lower is better). A limit must be a
finite number inside the metric's range (WER >= 0, mACC and mAP 0 to 100):
``nan``, ``inf`` or a bound no result can meet or miss is refused at start-up,
by the plugin and by ``sseu merge`` alike. A bound on a case's SNR
fails that case; a bound on ``avg`` / ``avg_mixed`` is checked when the
session ends and appears as its own test entry.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.numbers import is_finite_number
from sseu_harness.spec.snr import parse_snr, snr_label
from sseu_harness.spec.tasks import MODES, TASK, TASKS

AVERAGES = ("avg", "avg_mixed")
_KEYS = ("model", "task", "snr", "mode", "metric", "limit")
_TABLE_LINE = re.compile(r"""^\s*\[\[\s*(bound|"bound"|'bound')\s*\]\]""")  # TOML allows spaces and quotes
PERCENT_METRICS_MAX = 100.0  # mACC and mAP are percentages; WER has no upper end


@dataclass(frozen=True)
class Bound:
    task: str
    limit: float
    model: str | None = None
    snr: str | None = None
    mode: str | None = None
    where: str = ""  # file:line, for messages

    @property
    def metric(self) -> str:
        return TASK[self.task].metric

    @property
    def on_average(self) -> bool:
        return self.snr in AVERAGES


def load_thresholds(path: Path) -> list[Bound]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read thresholds file {path}: {exc.strerror}; check --sseu-thresholds") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          "save the thresholds file as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); see docs/gates.md for the format") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read; write each bound as a [[bound]] table") from None
    unknown = set(raw) - {"bound"}
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {sorted(unknown)}; write each bound as a [[bound]] table")
    entries = raw.get("bound", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(f"{path}: bound = {entries!r} is not a list of tables; write each bound as a [[bound]] "
                          "table with task and limit")
    lines = [n for n, line in enumerate(text.split("\n"), start=1) if _TABLE_LINE.match(line)]
    bounds = [_bound(entry, f"{path}:{lines[k] if k < len(lines) else '?'}") for k, entry in enumerate(entries)]
    if not bounds:
        raise ConfigError(f"{path}: no [[bound]] tables; add at least one or drop --sseu-thresholds")
    return bounds


def _bound(entry: dict, where: str) -> Bound:
    unknown = set(entry) - set(_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; a bound has {', '.join(_KEYS)}")
    task = entry.get("task")
    if task not in TASKS:
        raise ConfigError(f"{where}: task {task!r} is not one of {', '.join(TASKS)}")
    metric = entry.get("metric", TASK[task].metric)
    if metric != TASK[task].metric:
        raise ConfigError(f"{where}: metric {metric!r} does not belong to {task}; {task} is scored by {TASK[task].metric}")
    limit = entry.get("limit")
    if not is_finite_number(limit):
        raise ConfigError(f"{where}: limit must be a finite number in percent, got {limit!r}")
    highest = None if TASK[task].lower_is_better else PERCENT_METRICS_MAX
    if limit < 0 or (highest is not None and limit > highest):
        span = f"0 to {highest:g}" if highest is not None else "0 or more"
        # a WER bound below 0 or a mACC/mAP bound above 100 is never met; a mACC/mAP bound below 0 never missed
        never = "fail" if limit < 0 and not TASK[task].lower_is_better else "pass"
        raise ConfigError(f"{where}: limit {limit:g} is outside the range of {metric} ({span} %): the bound "
                          f"could never {never}; give a limit inside the range")
    mode = entry.get("mode")
    if mode is not None and mode not in MODES:
        raise ConfigError(f"{where}: mode {mode!r} is not one of {', '.join(MODES)}")
    snr = entry.get("snr")
    if snr is not None and snr not in AVERAGES:
        try:
            snr = snr_label(parse_snr(str(snr)))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}; or use avg / avg_mixed") from None
    model = entry.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"{where}: model must be a name, got {model!r}")
    return Bound(task=task, limit=float(limit), model=model, snr=snr, mode=mode, where=where)
