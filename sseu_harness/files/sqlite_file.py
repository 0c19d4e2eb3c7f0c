"""SQLite files shared by processes (pytest-xdist workers): WAL mode, short connections.

Used by the embedding cache and the prediction store. A file that is not a
SQLite database, or a damaged one, raises `ConfigError` naming the file and
the fix; it is never read as if it were empty.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sseu_harness.errors import ConfigError

BUSY_TIMEOUT_S = 30


class SQLiteFile:
    def __init__(self, path: Path, schema: str, what: str, fix: str) -> None:
        """`what` names the file's role in errors ("embedding cache"); `fix` says what to do when it is corrupt."""
        self.path = Path(path)
        self.what = what
        self.fix = fix
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create(schema)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived autocommit connection (fork- and thread-safe)."""
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            # WAL + NORMAL: a commit survives the death of any process (kill -9 included) without an
            # fsync; only a power cut can lose the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        except sqlite3.DatabaseError as exc:
            if primary_code(exc) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise ConfigError(f"{self.what} {self.path} is corrupt ({exc}); {self.fix}") from None
            raise
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _create(self, schema: str) -> None:
        """Switch the file to WAL and create the tables.

        When several processes open a new file at once, the WAL switch can fail
        with SQLITE_BUSY despite the busy timeout (seen with 8 processes):
        retry for up to the busy timeout.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                with self.connect() as conn:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(schema)
                return
            except sqlite3.OperationalError as exc:
                if primary_code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def primary_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code (extended codes such as SQLITE_BUSY_SNAPSHOT keep it in the low byte)."""
    return (exc.sqlite_errorcode or 0) & 0xFF
