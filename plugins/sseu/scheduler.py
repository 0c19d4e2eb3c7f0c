"""An xdist scheduler that keeps the three task cases of a joint/CoT group on one worker.

Those cases share one model answer per clip in the worker's memory. xdist's own
``--dist loadgroup`` is broken on pytest 9.2 + xdist 3.8 (xdist issue 1386),
so we reuse its load-scope scheduler with our own notion of scope.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

from sseu_harness.spec.cases import Case

from .items import case_of_nodeid


class CaseGroupScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        parts = case_of_nodeid(nodeid)
        if parts is None:
            return nodeid
        model, task, snr, mode = parts
        return Case(model, task, snr, mode).group
