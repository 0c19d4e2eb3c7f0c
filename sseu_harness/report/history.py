"""Run history of a report dir: every session's report in its own numbered folder.

Layout (as pytest-benchmark keeps its saved runs, one numbered entry each)::

    REPORT_DIR/runs/0001/   summary.json .md .csv .html, predictions.jsonl, plots
    REPORT_DIR/runs/0002/
    REPORT_DIR/LATEST       "0002": the newest run in which every selected case delivered its record
    REPORT_DIR/summary.*    the latest run's files, so readers of a plain report dir keep working

A run that is not complete (a case without its record, e.g. a model whose
weights are missing) keeps its folder but never reaches the top, so it cannot
erase the previous good report. The top's files are replaced all together
(temporary names, then renames) and the pointer last, by one rename.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.files import atomic
from sseu_harness.report.reader import load_report_dir

RUNS = "runs"
POINTER = "LATEST"
RUN_NAME = re.compile(r"^\d{4,}$")
TOP_FILES = ("summary.json", "summary.md", "summary.csv", "summary.html", "predictions.jsonl")
PREVIOUS = "previous"  # --sseu-baseline previous: the report dir's newest run that passed, before this session


def _is_report_file(name: str) -> bool:
    return name in TOP_FILES or (name.startswith("plot_") and name.endswith(".png"))


@dataclass(frozen=True)
class History:
    root: Path

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS

    def check_writable(self) -> None:
        """Refuse, at start-up, a report dir that cannot be written (a file in its place, a read-only folder):
        found only at the end, it would cost every case's report. Creates nothing that stays."""
        existing = self.root
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        fix = "pass a writable folder with --sseu-report-dir"
        if not existing.is_dir():
            raise ConfigError(f"report dir {self.root}: {existing} is a file, not a folder; {fix}")
        try:
            atomic.temp_beside(existing / "probe").unlink()
        except OSError as exc:
            raise ConfigError(
                f"report dir {self.root}: cannot write in {existing} ({exc.strerror or exc}); {fix}") from None

    def runs(self) -> list[Path]:
        """Run folders, oldest first."""
        if not self.runs_dir.is_dir():
            return []
        return sorted((p for p in self.runs_dir.iterdir() if p.is_dir() and RUN_NAME.match(p.name)),
                      key=lambda p: int(p.name))

    def new_run(self) -> Path:
        """A fresh numbered folder; creating it with exist_ok=False makes two sessions never share one."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        number = int(self.runs()[-1].name) + 1 if self.runs() else 1
        while True:
            path = self.runs_dir / f"{number:04d}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                number += 1

    def latest(self) -> Path | None:
        """The run the pointer names, or None (no good run yet, or a report dir of the old flat layout)."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.runs_dir / name
        return path if RUN_NAME.match(name) and path.is_dir() else None

    def latest_passed(self) -> Path | None:
        """The newest complete run whose gates all passed, and whose cases did too (no `failed_cases`): what
        `previous` compares against, so a run that failed its regression gate or a case's bound never becomes
        the baseline that lets the same regression pass next time."""
        for run in reversed(self.runs()):
            try:
                summary = load_report_dir(run).summary
            except ConfigError:  # a run folder without a readable summary (killed while writing): not a baseline
                continue
            gates = summary.get("gates") or []
            about_run = summary["meta"].get("run") or {}
            if about_run.get("complete") is True and not about_run.get("failed_cases") and all(
                    isinstance(g, dict) and g.get("passed") is True for g in gates):
                return run
        return None

    def promote(self, run: Path) -> None:
        """Make `run` what the top of the report dir shows: its files and the pointer, all or none.

        Everything is staged under temporary names first; if a rename then fails (a pointer that is a
        folder, a read-only file), the renames already done are undone from copies of the old files, so
        the top never shows one run while `LATEST` names another."""
        staged: dict[str, Path] = {}
        backups: dict[str, Path] = {}
        done: list[str] = []
        try:
            for source in sorted(run.iterdir()):
                if source.is_file() and _is_report_file(source.name):
                    staged[source.name] = _link_or_copy(source, self.root)
            staged[POINTER] = pointer = atomic.temp_beside(self.root / POINTER)
            with open(pointer, "w", encoding="utf-8") as handle:
                handle.write(run.name + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(pointer, atomic.SHARED)
            stale = [p.name for p in self.root.iterdir()  # a plot the new run no longer has
                     if p.is_file() and _is_report_file(p.name) and p.name not in staged]
            for name in [*staged, *stale]:
                if (self.root / name).is_file():
                    backups[name] = _link_or_copy(self.root / name, self.root)
            try:
                for name, temp in staged.items():
                    os.replace(temp, self.root / name)
                    done.append(name)
                for name in stale:
                    (self.root / name).unlink()
                    done.append(name)
            except OSError:
                for name in reversed(done):
                    if name in backups:
                        os.replace(backups[name], self.root / name)
                    else:
                        (self.root / name).unlink(missing_ok=True)
                raise
        finally:
            for temp in [*staged.values(), *backups.values()]:
                temp.unlink(missing_ok=True)

    def prune(self, keep: int) -> list[Path]:
        """Remove all but the newest `keep` runs; the latest good run always stays."""
        latest = self.latest()
        doomed = [run for run in self.runs()[:-keep] if run != latest]
        for run in doomed:
            shutil.rmtree(run)
        return doomed


def _link_or_copy(source: Path, folder: Path) -> Path:
    """A temporary name in `folder` for `source`'s content: a hard link (run files never change), else a copy."""
    temp = atomic.temp_beside(folder / source.name)
    temp.unlink()
    try:
        os.link(source, temp)
    except OSError:
        shutil.copyfile(source, temp)
        os.chmod(temp, atomic.SHARED)
    return temp


def resolve_baseline(value: str, report_dir: Path) -> Path:
    """--sseu-baseline: a report dir, a run folder, or `previous` (this report dir's newest run that passed)."""
    if value != PREVIOUS:
        return Path(value)
    history = History(Path(report_dir))
    passed = history.latest_passed()
    if passed is not None:
        return passed
    if not history.runs() and (Path(report_dir) / "summary.json").is_file():  # the flat layout, before run history
        return Path(report_dir)
    raise ConfigError(f"--sseu-baseline previous: {report_dir} holds no earlier complete run whose gates all passed; "
                      "run the benchmark once without a baseline, or pass a report dir or run folder")
