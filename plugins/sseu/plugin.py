"""Hooks of the SSEU-Bench plugin; the work is done by `sseu_harness` and this package's modules.

Without ``--sseu-model`` the plugin stays out of the way and pytest runs the
project's own tests. With it, the session collects nothing from disk and runs
one item per benchmark case instead.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from sseu_harness.errors import SSEUError
from sseu_harness.report.history import History
from sseu_harness.report import tables
from sseu_harness.results.paper import departures

from . import options
from .controller import finish, load_gates
from .items import BenchSuite, case_table
from .state import BENCH, CASES, GATES, LEDGER, PARTIAL_PREFIX, SINK, Ledger, PredictionSink

OUTCOME = pytest.StashKey["Outcome"]()
REPORT_ERROR = pytest.StashKey[str]()
KEYWORD_CLASHES = re.compile(r"asr|asc|at|snr_", re.IGNORECASE)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def _active(config: pytest.Config) -> bool:
    return bool(options.selected_models(config))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _active(config):
        return
    from sseu_harness.run.session import Bench  # heavy: only when benchmarking

    try:
        options.keep_runs(config)
        if not hasattr(config, "workerinput"):
            History(options.report_dir(config)).check_writable()
        bench = Bench(options.bench_config(config), check_inputs=not hasattr(config, "workerinput"))
        config.stash[GATES] = load_gates(config, bench, sharded=options.shard(config) is not None)
    except SSEUError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[BENCH] = bench
    config.stash[CASES] = case_table(bench.cases())
    if not hasattr(config, "workerinput"):
        for warning in config.stash[GATES].warnings:
            config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)
    for model in bench.models:
        if KEYWORD_CLASHES.search(model):
            config.issue_config_time_warning(
                pytest.PytestConfigWarning(
                    f"model name {model!r} contains 'asr', 'asc', 'at' or 'snr_': "
                    "-k filters on task or SNR will also match its other cases; rename it (e.g. with a factory name)"
                ),
                stacklevel=2,
            )
    worker_input = getattr(config, "workerinput", None)
    token = worker_input["sseu_token"] if worker_input else uuid.uuid4().hex[:12]
    # per-clip rows wait in the cache dir, so an unwritable report dir costs only the report
    partial_dir = Path(config.getoption("sseu_cache_dir")) / "partials" / f"{PARTIAL_PREFIX}{token}"
    config.stash[SINK] = PredictionSink(partial_dir)
    if not worker_input:
        config.stash[LEDGER] = ledger = Ledger(partial_dir)
        config.pluginmanager.register(ledger, "sseu-ledger")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(token), "sseu-xdist")


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """The data set and the folders its header's roots resolve to: where audio will be read from."""
    if not _active(config) or BENCH not in config.stash:
        return None
    manifest = config.stash[BENCH].manifest
    outside = manifest.outside_roots()
    lines = [f"sseu data: {manifest.path}"]
    lines += [f"sseu root {name}: {real}{' (outside the set, --sseu-allow-roots)' if name in outside else ''}"
              for name, real in manifest.resolved_roots().items()]
    return lines


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    return True if _active(config) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    if not _active(config):
        return
    # genitems reports the collection as pytest's own would (counts, --collect-only listing)
    items[:] = list(session.genitems(BenchSuite.for_session(session)))
    shard = options.shard(config)
    if shard:
        from sseu_harness.spec.cases import shard_cases

        mine = {case.id for case in shard_cases([item.case for item in items], *shard)}
        config.hook.pytest_deselected(items=[item for item in items if item.case.id not in mine])
        items[:] = [item for item in items if item.case.id in mine]


def pytest_collection_finish(session: pytest.Session) -> None:
    ledger = session.config.stash.get(LEDGER, None)
    if ledger is not None:
        ledger.expected.update(item.nodeid for item in session.items)


@pytest.hookimpl(tryfirst=True)  # before junitxml writes its file: gate entries must be in it
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not _active(config):
        return
    config.stash[BENCH].close()
    ledger = config.stash.get(LEDGER, None)
    if ledger is None or config.option.collectonly:
        return
    if session.exitstatus == pytest.ExitCode.INTERRUPTED:  # keep the previous report; the store has the answers
        config.stash[REPORT_ERROR] = "interrupted: the report was not rewritten; rerun to finish from the store"
        return
    outcome = finish(session, config.stash[BENCH], ledger, config.stash[GATES], options.report_dir(config),
                     options.shard(config), options.keep_runs(config))
    config.stash[OUTCOME] = outcome
    if outcome.report_error:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    elif (outcome.missing or not all(g.passed for g in outcome.gates)) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _active(config):
        return
    tr = terminalreporter
    for warning in config.stash[GATES].warnings if GATES in config.stash else []:
        tr.write_line(f"SSEU-Bench: WARNING: {warning}", yellow=True, bold=True)
    if OUTCOME not in config.stash:
        if REPORT_ERROR in config.stash:
            tr.write_line(f"SSEU-Bench: {config.stash[REPORT_ERROR]}", yellow=True)
        return
    outcome = config.stash[OUTCOME]
    tr.section("SSEU-Bench")
    tr.ensure_newline()
    writer = config.get_terminal_writer()  # the reporter's own: gate lines coloured as write_line would
    tr.write(tables.terminal_block(outcome.records, ci=config.getoption("sseu_ci"), gates=outcome.gates, spaced=True,
                                   paint=lambda text, passed: writer.markup(text, red=not passed, green=passed),
                                   departures=departures(config.stash[BENCH].meta())))
    if outcome.report_error:
        tr.write_line(f"\nERROR: {outcome.report_error}", red=True, bold=True)
    elif outcome.run is not None and outcome.promoted:
        tr.write_line(f"\nreport: {options.report_dir(config).resolve()} (run {outcome.run.name})")
    elif outcome.run is not None:
        tr.write_line(f"\nreport: {outcome.run.resolve()}; an incomplete run (a case without its record), "
                      f"so the top of {options.report_dir(config)} keeps its latest complete run", yellow=True)
    if outcome.warning:
        tr.write_line(f"\nWARNING: {outcome.warning}", yellow=True, bold=True)
    if outcome.missing:
        tr.write_line(
            f"\nERROR: {len(outcome.missing)} case(s) delivered no metric record (a lost report); "
            "the session is failed:\n  " + "\n  ".join(outcome.missing),
            red=True, bold=True,
        )


class XdistHooks:
    """Hooks that exist only when pytest-xdist is installed."""

    def __init__(self, token: str) -> None:
        self.token = token

    def pytest_configure_node(self, node) -> None:
        node.workerinput["sseu_token"] = self.token

    def pytest_xdist_make_scheduler(self, config, log):
        from .scheduler import CaseGroupScheduling

        return CaseGroupScheduling(config, log)

    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        ledger = node.config.stash.get(LEDGER, None)
        if ledger is not None:
            ledger.expected.update(ids)
