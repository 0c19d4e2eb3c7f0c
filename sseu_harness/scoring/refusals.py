"""Answers that decline ("I can't transcribe this", "Scene: unknown"), from `data/refusals.toml`.

Eq. 1-3 read literally would embed "I don't know" like an answer and put it on
some scene (on *home* with MiniLM), scoring it correct on that scene's clips.
The parser asks `is_refusal` of every field's value instead, and a declining
value becomes an empty prediction: scored as wrong, and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.files.toml_table import read_table
from sseu_harness.scoring.sseu_en import normalize

REFUSALS_FILE = Path(__file__).resolve().parents[1] / "data" / "refusals.toml"


@dataclass(frozen=True)
class _Phrases:
    exact: frozenset[str]
    transcript_exact: frozenset[str]
    starts: re.Pattern[str]


def is_refusal(text: str, transcript: bool = False) -> bool:
    """True when `text` (normalised) starts with one of the file's `starts` phrases or is one of its `exact`
    phrases (`transcript_exact` for a transcript: "I don't know" may be what the speaker said)."""
    phrases = _phrases()
    text = normalize(text)
    exact = phrases.transcript_exact if transcript else phrases.exact
    return text in exact or phrases.starts.match(text) is not None


@lru_cache(maxsize=1)
def _phrases() -> _Phrases:
    raw = read_table(REFUSALS_FILE, "refusal phrases", ("version", "exact", "transcript_exact", "starts"))

    def phrases(key: str) -> list[str]:
        value = raw.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
            raise ConfigError(f"{REFUSALS_FILE}: {key!r} must be a non-empty list of strings; fix: {key} = [\"...\"]")
        for phrase in value:
            if not phrase or normalize(phrase) != phrase:
                raise ConfigError(f"{REFUSALS_FILE}: {key} entry {phrase!r} would never match; fix: write it "
                                  f"normalised, as {normalize(phrase)!r}")
        return value

    starts = sorted(phrases("starts"), key=len, reverse=True)
    return _Phrases(frozenset(phrases("exact")), frozenset(phrases("transcript_exact")), re.compile(rf"(?:{'|'.join(map(re.escape, starts))})(?: |$)"))
