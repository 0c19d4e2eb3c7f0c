"""Real pytest sessions in subprocesses, as the session tests start them, and readers of their reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sseu_harness.dataset.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
DEMO_ITEMS = len(load_manifest().items)


def run_pytest(*args: str, cwd: Path = REPO, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """A real pytest session in a subprocess; a fresh cache dir (store, embeddings) unless one is given."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    if not any(a.startswith("--sseu-cache-dir") for a in args):
        args = (*args, f"--sseu-cache-dir={tempfile.mkdtemp(prefix='sseu-cache-')}")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def summary(report_dir: Path) -> dict:
    return json.loads((report_dir / "summary.json").read_text())


def by_key(records: list[dict]) -> dict[tuple, dict]:
    return {(r["model"], r["task"], r["snr"], r["mode"]): r for r in records}
