"""SQLite files shared by processes (pytest-xdist workers): WAL mode, short connections.

Used by the embedding cache and the prediction store. A file that is not a
SQLite database, or a damaged one, raises `ConfigError` naming the file and
the fix; it is never read as if it were empty. So do a path that is a folder,
a folder that cannot be created, and a file that cannot be written. An
existing SQLite file that another tool made (it lacks our tables or their
columns, or its own check says so, e.g. the store's schema stamp) is refused
before anything is written to it: no WAL switch, no table added.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from sseu_harness.errors import ConfigError

BUSY_TIMEOUT_S = 30


class SQLiteFile:
    def __init__(self, path: Path, schema: str, what: str, fix: str, option: str,
                 owned: Callable[[sqlite3.Connection], str | None] | None = None) -> None:
        """`what` names the file's role in errors ("embedding cache"); `fix` says what to do when it is corrupt;
        `option` is the command-line option that picks another path; `owned` says why an existing file with
        our tables is still not ours (None: it is)."""
        self.path = Path(path)
        self.what = what
        self.fix = fix
        self.option = option
        if self.path.is_dir():
            raise ConfigError(f"{what} {self.path} is a folder; pass {option} with a file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the folder {self.path.parent} for the {what} ({exc.strerror}); "
                              f"make it creatable or pass {option} with another path") from None
        self._refuse_foreign(schema, owned)
        try:
            self._create(schema)
        except sqlite3.OperationalError as exc:
            raise ConfigError(f"cannot write the {what} {self.path} ({exc}); make the file and its folder "
                              f"writable, or pass {option} with another path") from None

    def _refuse_foreign(self, schema: str, owned: Callable[[sqlite3.Connection], str | None] | None) -> None:
        """Refuse an existing database that is not ours, reading it only."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        expected = _tables(schema)
        with self.connect() as conn:
            found = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not found:
                return
            reasons = [f"it has no table {name!r}" if name not in found else
                       f"its table {name!r} has columns {_columns(conn, name)}, not {columns}"
                       for name, columns in expected.items() if _columns(conn, name) != columns]
            if not reasons and owned is not None and (reason := owned(conn)):
                reasons.append(reason)
        if reasons:
            raise ConfigError(f"{self.what} {self.path} is a SQLite file of another tool or version "
                              f"({'; '.join(reasons)}); it was left untouched: pass {self.option} with another path")

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
                    conn.executescript(f"BEGIN IMMEDIATE;\n{schema}\nCOMMIT;")  # others see all tables or none
                return
            except sqlite3.OperationalError as exc:
                if primary_code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _tables(schema: str) -> dict[str, list[str]]:
    """{table: column names} that `schema` creates, read back from a scratch in-memory database."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema)
        names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: _columns(conn, name) for name in names}
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def primary_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code (extended codes such as SQLITE_BUSY_SNAPSHOT keep it in the low byte)."""
    return (exc.sqlite_errorcode or 0) & 0xFF
