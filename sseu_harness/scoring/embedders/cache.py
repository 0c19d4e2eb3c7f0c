"""On-disk embedding cache shared by processes: each distinct text is embedded once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from sseu_harness.errors import ConfigError
from sseu_harness.files.sqlite_file import SQLiteFile
from sseu_harness.scoring.embedders.base import Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (embedder, text)
);
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
        self._db = SQLiteFile(self.path, _SCHEMA, "embedding cache", "delete the file, it is rebuilt on the next run",
                              "--sseu-cache-dir")

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, path={str(self.path)!r})"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Look all texts up, embed the distinct missing ones in one `inner` call, return in input order."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        distinct = list(dict.fromkeys(texts))
        with self._db.connect() as conn:
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
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO embeddings (embedder, text, vector) VALUES (?, ?, ?)",
                    [(self.name, text, vector.astype(_DTYPE).tobytes()) for text, vector in zip(missing, vectors)],
                )
                found.update(self._lookup(conn, missing))
        return np.stack([found[text] for text in texts])

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
