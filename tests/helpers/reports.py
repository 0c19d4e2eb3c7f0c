"""A real report made by a real session, for the tests of summary.html, `sseu view` and the browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOSTILE_ARGS = ("--sseu-model=tests.helpers.adapters:Hostile", "--sseu-modes=independent", "--sseu-snrs=snr_0,snr_m10",
                "--sseu-max-error-rate=1", "--sseu-bootstrap=50", "--sseu-ci")


def run_session(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def hostile_report(out: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """The demo set answered by `tests.helpers.adapters:Hostile` (errors, HTML answers, wrong answers) at 0 and -10 dB."""
    proc = run_session(*HOSTILE_ARGS, f"--sseu-report-dir={out / 'report'}", f"--sseu-cache-dir={out / 'cache'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "report", proc
