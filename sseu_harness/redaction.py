"""Messages safe to keep: a key, or any piece of it from its start, never reaches a log or an artifact.

A message may hold a key cut short (an error body truncated by a server or by
us), so a full-value replace is not enough: any run of 8 or more characters
that starts like a secret is removed, before any truncation.
"""

from __future__ import annotations

import os
import re
from typing import Iterable

MAX_REASON = 500  # characters of a failed call's reason kept in records and reports
MIN_PREFIX = 8  # shorter pieces are too common in ordinary text to be told from a key
REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and every prefix of one of `MIN_PREFIX` or more characters, replaced."""
    for secret in secrets:
        if len(secret) < MIN_PREFIX:
            continue
        head = secret[:MIN_PREFIX]
        pieces, start = [], 0
        while (at := text.find(head, start)) >= 0:
            end = at + MIN_PREFIX
            while end - at < len(secret) and end < len(text) and text[end] == secret[end - at]:
                end += 1
            pieces += [text[start:at], REDACTED]
            start = end
        text = "".join(pieces) + text[start:] if pieces else text
    return text


def environment_secrets() -> list[str]:
    """Values of environment variables named like secrets (…_KEY, …_TOKEN, …_SECRET, …_PASSWORD)."""
    return [value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= MIN_PREFIX]


def failure_reason(exc: BaseException) -> str:
    """The exception as one line, with secret-looking environment variables' values (and pieces of them from
    their start) removed before it is cut to `MAX_REASON`."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return redact(text, environment_secrets())[:MAX_REASON]
