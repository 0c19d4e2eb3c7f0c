"""Files that appear whole or not at all: written under a temporary name beside the target, then renamed.

A reader (another process, a rerun after kill -9) sees either the old file or
the new one, never a half-written one; a failed write leaves the old file and
no temporary behind. Temporary names are ``.<name>.partial-<random>``, so a
folder's leftovers from a killed process match ``.*.partial-*``.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

SHARED = 0o644  # mkstemp makes 0600; reports and data sets are meant to be shared


def temp_beside(path: Path) -> Path:
    """A new, empty temporary file in `path`'s folder."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    os.close(fd)
    return Path(temp)


def commit(temp: Path, path: Path) -> None:
    """Flush `temp` to disk and rename it over `path`."""
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(temp, SHARED)
    os.replace(temp, path)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write; it replaces `path` when the block ends without an error."""
    temp = temp_beside(Path(path))
    try:
        yield temp
        commit(temp, Path(path))
    finally:
        temp.unlink(missing_ok=True)


def write_text(path: Path, text: str, check: Callable[[Path], None] | None = None) -> None:
    """Write `text` to `path` atomically; `check(temp)` may raise to keep the old file."""
    with replacing(path) as temp:
        temp.write_text(text, encoding="utf-8")
        if check is not None:
            check(temp)
