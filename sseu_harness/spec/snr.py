"""SNR conditions and their labels.

A label is ``snr_`` + ``p``/``m`` for the sign + the magnitude in dB with ``.``
written as ``_``: +10 dB -> ``snr_p10``, -2.5 dB -> ``snr_m2_5``, 0 dB ->
``snr_0``; speech only (+inf) is ``snr_pinf`` and background only (-inf)
``snr_minf``. Labels never contain "at", "asr" or "asc", so ``-k`` on task
names stays exact.
"""

from __future__ import annotations

import math
import re

from sseu_harness.errors import ConfigError
from sseu_harness.spec.tasks import TASKS

PAPER_SNRS_DB = (math.inf, 10.0, 5.0, 0.0, -5.0, -10.0, -math.inf)
MIXED_SNRS_DB = (10.0, 5.0, 0.0, -5.0, -10.0)

_LABEL = re.compile(r"^snr_(?:(pinf|minf|0)|([pm])(\d+(?:_\d+)?))$")


def snr_label(db: float) -> str:
    if db == math.inf:
        return "snr_pinf"
    if db == -math.inf:
        return "snr_minf"
    if math.isnan(db):
        raise ConfigError("an SNR of NaN has no label; give a number in dB, inf or -inf")
    if db == 0:
        return "snr_0"
    magnitude = f"{abs(db):g}".replace(".", "_")
    if "e" in magnitude:
        raise ConfigError(f"SNR {db} dB is out of range for a label")
    return f"snr_{'p' if db > 0 else 'm'}{magnitude}"


def parse_snr(text: str) -> float:
    """Accept a label (``snr_m10``) or a number in dB (``-10``, ``+inf``)."""
    value = text.strip().lower()
    match = _LABEL.match(value)
    if match:
        special, sign, magnitude = match.groups()
        if special:
            return {"pinf": math.inf, "minf": -math.inf, "0": 0.0}[special]
        db = float(magnitude.replace("_", "."))
        return db if sign == "p" else -db
    try:
        db = float(value.removesuffix("db"))
    except ValueError:
        raise ConfigError(
            f"unknown SNR {text!r}: use a label like snr_p10, snr_0, snr_m5, snr_pinf, snr_minf or a number in dB"
        ) from None
    if math.isnan(db):
        raise ConfigError(f"unknown SNR {text!r}: NaN is not an SNR")
    return db


def tasks_at(db: float) -> tuple[str, ...]:
    """ASR needs speech (none at -inf); ASC and AT need background (none at +inf)."""
    if db == -math.inf:
        return ("ASC", "AT")
    if db == math.inf:
        return ("ASR",)
    return TASKS


def sort_key(label: str) -> float:
    """Order labels as the paper's columns: from speech only down to background only."""
    return -parse_snr(label)
