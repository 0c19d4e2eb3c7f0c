"""95% bootstrap intervals for every record: cases from their replicates, averages from their cases'."""

from __future__ import annotations

import numpy as np

from .bootstrap import Draws, hierarchical_mean, interval


def attach_intervals(records: list[dict], replicates: dict[str, np.ndarray], draws: Draws) -> None:
    """Add ``ci_low`` / ``ci_high`` to every record whose replicates are known (in place).

    ``replicates`` maps a case id to its (B, runs) metric replicates; an
    average's replicates are the mean of its cases' under the same draws.
    """
    by_slice = {(r["model"], r["task"], r["snr"], r["mode"]): r["case"] for r in records if "case" in r}
    for record in records:
        if "case" in record:
            per_run = replicates.get(record["case"])
        else:
            parts = [replicates.get(by_slice.get((record["model"], record["task"], snr, record["mode"])))
                     for snr in record["over"]]
            per_run = None if any(p is None for p in parts) else np.mean(parts, axis=0)
        if per_run is not None:
            record["ci_low"], record["ci_high"] = interval(hierarchical_mean(per_run, draws))
