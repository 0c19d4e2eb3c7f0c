"""Benchmark cases as pytest items, in one collector hung directly under the session.

No module, class or folder sits between the session and a case, so ``-k``
sees only the case id (``<model>-<task>-<snr>-<mode>``) and the collector's
name ``sseu``, never a folder or file name that happens to contain "at".
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace

import pytest

from sseu_harness.errors import SSEUError
from sseu_harness.results.gates import case_breaches
from sseu_harness.spec.cases import Case

from .state import GATES, bench_of, cases_of, prediction_sink

SUITE = "sseu"
JUNIT_PROPERTIES = ("metric", "value", "std", "runs", "n", "parse_failures", "refusals", "errors", "clips_per_s")
NODE_PREFIX = SUITE + "::"


class BenchSuite(pytest.Collector):
    """The collector of all cases of this session's grid."""

    @classmethod
    def for_session(cls, session: pytest.Session) -> "BenchSuite":
        return cls.from_parent(session, name=SUITE, nodeid=SUITE)

    def collect(self) -> list["BenchCase"]:
        bench = bench_of(self.config)
        items = []
        for nodeid, case in cases_of(self.config).items():
            item = BenchCase.from_parent(self, name=case.id, nodeid=nodeid, case=case)
            reason = bench.unsupported(case)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
            items.append(item)
        return items


class BenchCase(pytest.Item):
    def __init__(self, *, case: Case, **kwargs) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        bench = bench_of(self.config)
        bench.plan([item.case for item in upcoming(self) if isinstance(item, BenchCase)])
        record, rows = bench.run_case(self.case, _progress_printer(self.config, self.case.id))
        prediction_sink(self.config).write(self.case.id, rows)
        record = replace(record, worker=getattr(self.config, "workerinput", {}).get("workerid", "main"))
        data = record.to_json()
        self.user_properties.append(("sseu_record", json.dumps(data)))
        # plain properties for JUnit XML readers; the record above is what the controller aggregates
        self.user_properties += [(key, str(data[key])) for key in JUNIT_PROPERTIES]
        breaches = case_breaches(record, bench.config.max_error_rate, bench.config.max_parse_failure_rate,
                                 self.config.stash[GATES].bounds)
        if breaches:
            pytest.fail(f"{self.case.id}: " + "\n".join(breaches), pytrace=False)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SSEUError):
            return f"{self.case.id}: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, self.case.id


def upcoming(item: pytest.Item) -> list[pytest.Item]:
    """This item and those this process will run after it, in order, as far as they are known.

    Without xdist: the rest of the session. In an xdist worker: the items the
    controller has already handed to it (its run queue, read under its lock);
    work-stealing schedulers are not used with these cases, so the queue holds.
    """
    items = item.session.items
    for plugin in item.config.pluginmanager.get_plugins():
        torun = getattr(plugin, "torun", None)
        if torun is not None and hasattr(torun, "lock") and hasattr(plugin, "nextitem_index"):
            with torun.lock() as queued:
                indices = [plugin.nextitem_index, *queued]
            return [item, *(items[i] for i in indices if isinstance(i, int))]
    position = next((k for k, other in enumerate(items) if other is item), None)
    return [item] if position is None else list(items[position:])


def case_table(cases: list[Case]) -> dict[str, Case]:
    """{node id: case}: how the scheduler and the controller know a case from its node id."""
    return {NODE_PREFIX + case.id: case for case in cases}


@dataclass
class ProgressLine:
    """A case's progress line. Its rate counts only the clips answered while the case waited: clips taken
    from the store or streamed before the case started took none of its time (a rate over them read
    "413334.8 clips/s")."""

    case_id: str
    started: float
    first: int | None = None  # clips done at the first report

    def text(self, done: int, total: int, now: float) -> str:
        if self.first is None:
            self.first = done
        answered = done - self.first
        rate = f", {answered / max(now - self.started, 1e-9):.1f} clips/s" if answered > 0 else ""
        return f"\r    {self.case_id}: {done}/{total} clips{rate} "


def _progress_printer(config: pytest.Config, case_id: str):
    """Clips done and clips/s on the terminal, at most twice a second; silent under xdist."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or hasattr(config, "workerinput") or config.get_verbosity() < 0:
        return None
    line, last = ProgressLine(case_id, time.perf_counter()), [0.0]

    def show(done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - last[0] < 0.5:
            return
        last[0] = now
        with capture.global_and_fixture_disabled() if capture else nullcontext():
            reporter.write(line.text(done, total, now), flush=True)
            if done == total:
                reporter.write("\r" + " " * (len(case_id) + 40) + "\r", flush=True)

    return show

