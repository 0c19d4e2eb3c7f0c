"""The prediction store: every model answer, kept the moment it is produced.

One SQLite file (WAL) shared by all pytest-xdist workers. An answer's key is
the SHA-256 of the canonical JSON of everything that shapes it: the adapter's
identity (class, declared and user settings: model id, revision, decoding),
the prompt's hash, the item (id and its manifest row), the SNR and the
mixer's version, the mode and task, and the run seed for models that sample.
A rerun finds what is stored and asks the model only for the rest; answers
are stored as text or JSON, never pickled. Failed calls are not stored, so a
rerun retries them.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from sseu_harness.adapter import Answer, ClassScores
from sseu_harness.errors import ConfigError
from sseu_harness.files.sqlite_file import SQLiteFile

STORE_SCHEMA = "sseu-store/1"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    item TEXT NOT NULL,
    snr TEXT NOT NULL,
    mode TEXT NOT NULL,
    task TEXT,
    seed INTEGER,
    identity TEXT NOT NULL,
    kind TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO store_meta VALUES ('schema', '{STORE_SCHEMA}');
"""
_LOOKUP_CHUNK = 500
MAX_STORED_CHARS = 4_000_000  # longer answers keep head and tail (the parser reads only the ends)


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def answer_key(identity: dict) -> str:
    return hashlib.sha256(canonical_json(identity).encode("utf-8")).hexdigest()


class PredictionStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = SQLiteFile(
            self.path, _SCHEMA, "prediction store",
            "move it aside (answers in it are lost) or pass --sseu-store with another path", "--sseu-store",
            owned=_stamp_problem,
        )

    def get_many(self, keys: list[str]) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        with self._db.connect() as conn:
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[start : start + _LOOKUP_CHUNK]
                rows = conn.execute(
                    f"SELECT key, kind, answer FROM answers WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
                for key, kind, text in rows:
                    found[key] = _decode(kind, text, self.path)
        return found

    def put_many(self, rows: list[tuple[str, dict, Answer]]) -> None:
        """Store (key, identity, answer) rows in one transaction; a key already present keeps its answer."""
        if not rows:
            return
        now = time.time()
        values = []
        for key, identity, answer in rows:
            kind, text = _encode(answer)
            values.append((key, identity["model"], identity["item"], identity["snr"], identity["mode"],
                           identity["task"], identity["seed"], canonical_json(identity), kind, text, now))
        with self._db.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)

    def count(self) -> int:
        with self._db.connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]


def _stamp_problem(conn) -> str | None:
    """Why a file with the store's tables is still not a store this harness writes: its schema stamp."""
    row = conn.execute("SELECT value FROM store_meta WHERE name = 'schema'").fetchone()
    if row is None or row[0] != STORE_SCHEMA:
        return f"it has schema {row[0] if row else None!r}, this harness writes {STORE_SCHEMA!r}"
    return None


def _encode(answer: Answer) -> tuple[str, str]:
    if isinstance(answer, ClassScores):
        payload = {k: None if v is None else np.asarray(v, dtype=float).tolist()
                   for k, v in (("scenes", answer.scenes), ("events", answer.events))}
        return "scores", canonical_json(payload)
    if len(answer) > MAX_STORED_CHARS:
        half = MAX_STORED_CHARS // 2
        answer = answer[:half] + "\n[...]\n" + answer[-half:]
    return "text", answer


def _decode(kind: str, text: str, path: Path) -> Answer:
    if kind == "text":
        return text
    if kind == "scores":
        payload = json.loads(text)
        return ClassScores(**{k: None if v is None else np.asarray(v, dtype=float) for k, v in payload.items()})
    raise ConfigError(f"prediction store {path} holds an answer of unknown kind {kind!r}; it was written by another tool")
