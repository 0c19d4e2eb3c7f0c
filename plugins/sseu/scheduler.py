"""An xdist scheduler that keeps the three task cases of a joint/CoT group on one worker.

Those cases share one model answer per clip in the worker's memory. xdist's own
``--dist loadgroup`` is broken on pytest 9.2 + xdist 3.8 (xdist issue 1386),
so we reuse its load-scope scheduler with our own notion of scope.
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling

from .state import cases_of


class CaseGroupScheduling(LoadScopeScheduling):
    def __init__(self, config: pytest.Config, log=None) -> None:
        super().__init__(config, log)
        self.cases = cases_of(config)

    def _split_scope(self, nodeid: str) -> str:
        case = self.cases.get(nodeid)
        return nodeid if case is None else case.group
