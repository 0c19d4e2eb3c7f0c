"""On-disk embedding cache shared by processes: each distinct text is embedded once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .base import Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (embedder, text)
)
"""
_LOOKUP_CHUNK = 500  # stays under SQLite's bound-parameter limit
_DTYPE = np.dtype("<f4")  # stored bytes are little-endian float32 on every machine


class CachedEmbedder:
    """Wraps an embedder with a SQLite cache keyed by (embedder name, text).

    SQLite in WAL mode with a 30 s busy timeout, a fresh connection per call,
    and INSERT OR IGNORE: pytest-xdist workers can share one file. When two
    processes embed the same new text at once, the first row stored wins and
    both return it, so a text has exactly one vector per cache file (OpenAI's
    vectors are not bit-stable between calls). Vectors are raw float32 bytes,
    never pickles. `hits` / `misses` count distinct texts served from the file
    / embedded by `inner`.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = Path(path)
        self.name = inner.name
        self.hits = 0
        self.misses = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create()

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, path={str(self.path)!r})"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Look all texts up, embed the distinct missing ones in one `inner` call, return in input order."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        distinct = list(dict.fromkeys(texts))
        with self._connect() as conn:
            found = self._lookup(conn, distinct)
        missing = [text for text in distinct if text not in found]
        self.hits += len(distinct) - len(missing)
        if missing:
            vectors = np.asarray(self.inner.embed(missing), dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != len(missing):
                raise ConfigError(
                    f"embedder {self.name} returned shape {vectors.shape} for {len(missing)} texts; "
                    "an embedder must return one row per text"
                )
            self.misses += len(missing)
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR IGNORE INTO embeddings (embedder, text, vector) VALUES (?, ?, ?)",
                    [(self.name, text, vector.astype(_DTYPE).tobytes()) for text, vector in zip(missing, vectors)],
                )
                conn.execute("COMMIT")
                found.update(self._lookup(conn, missing))
        return np.stack([found[text] for text in texts])

    def _create(self) -> None:
        """Switch the file to WAL and create the table.

        When several processes open a new file at once, the WAL switch can fail
        with SQLITE_BUSY despite the busy timeout (seen with 8 processes):
        retry for up to 30 s.
        """
        deadline = time.monotonic() + 30
        while True:
            try:
                with self._connect() as conn:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if _primary_code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _lookup(self, conn: sqlite3.Connection, texts: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(texts), _LOOKUP_CHUNK):
            chunk = texts[start : start + _LOOKUP_CHUNK]
            rows = conn.execute(
                f"SELECT text, vector FROM embeddings WHERE embedder = ? AND text IN ({','.join('?' * len(chunk))})",
                [self.name, *chunk],
            )
            for text, blob in rows:
                found[text] = np.frombuffer(blob, dtype=_DTYPE).astype(np.float32)
        return found

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (fork- and thread-safe); a file that is not SQLite is reported."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            if _primary_code(exc) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise ConfigError(
                    f"embedding cache {self.path} is corrupt ({exc}); delete the file, it is rebuilt on the next run"
                ) from exc
            raise
        finally:
            conn.close()


def _primary_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code (extended codes such as SQLITE_BUSY_SNAPSHOT keep it in the low byte)."""
    return (exc.sqlite_errorcode or 0) & 0xFF
