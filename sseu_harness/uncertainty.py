"""95% bootstrap intervals for every record: cases from their replicates, averages from their cases'."""

from __future__ import annotations

import numpy as np

from .bootstrap import Draws, hierarchical_mean
from .intervals import basic_interval, interval_warning


def attach_intervals(records: list[dict], replicates: dict[str, np.ndarray], draws: Draws,
                     smallest: dict[str, int | None]) -> None:
    """Add ``ci_low`` / ``ci_high`` (and ``ci_warning`` on small slices) to every record whose replicates are known.

    ``replicates`` maps a case id to its (B, runs) metric replicates and
    ``smallest`` to the clips of its rarest class (`CaseClips.smallest_class`);
    an average's replicates are the mean of its cases' under the same draws,
    and it is as small as its smallest case.
    """
    by_slice = {(r["model"], r["task"], r["snr"], r["mode"]): r for r in records if "case" in r}
    for record in records:
        if "case" in record:
            cases = [record]
        else:
            cases = [by_slice.get((record["model"], record["task"], snr, record["mode"])) for snr in record["over"]]
        if any(c is None or c["case"] not in replicates for c in cases):
            continue
        per_run = np.mean([replicates[c["case"]] for c in cases], axis=0)
        record["ci_low"], record["ci_high"] = basic_interval(hierarchical_mean(per_run, draws), record["value"])
        sizes = [smallest.get(c["case"]) for c in cases]
        warning = interval_warning(None if None in sizes else min(sizes))
        if warning:
            record["ci_warning"] = warning
