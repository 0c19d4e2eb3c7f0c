"""The harness's own minimal English normaliser "sseu-en-1" (`--sseu-normalizer sseu-en-1`).

Kept selectable beside the default (Whisper's, see `normalizer.py`) so that
results scored with it stay reproducible. Its rules are a versioned contract:
any change (however small) must bump `VERSION`, so scores from different rule
sets are never compared as if they were the same metric.

Rules of "sseu-en-1", applied in this order:

1. Unicode NFKC (full-width letters, ligatures such as "ﬁ" and no-break spaces
   become their plain forms).
2. Lowercase (`str.lower`).
3. Curly single quotes and the modifier apostrophe (‘ ’ ‚ ‛ ʼ) become "'";
   curly double quotes („ “ ” ‟) become '"'.
4. Hyphens and dashes (- ‐ ‑ ‒ – — ― −), slashes (/ \\) and underscores become
   spaces: "well-known" -> "well known", "and/or" -> "and or".
5. Every other character that is not a letter, a digit, a combining mark,
   whitespace or an apostrophe becomes a space: all punctuation and symbols
   are dropped ("mr. smith, hi!" -> "mr smith hi", "u.s." -> "u s").
6. An apostrophe is kept only between two letters or digits ("don't",
   "o'clock", "rock'n'roll"); any other apostrophe (leading, trailing,
   standing alone) is removed: "'hello'" -> "hello", "dogs'" -> "dogs".
7. Runs of whitespace collapse to one space; the result is stripped.

Not done (on purpose): no spelling of numbers ("3" stays "3", "three" stays
"three"), no British/American spelling merge, no contraction expansion.
"""

from __future__ import annotations

import re
import unicodedata

VERSION = "sseu-en-1"

_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201b": "'",  # ‛
        "\u02bc": "'",  # ʼ
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
    }
)
_SEPARATORS = re.compile(r"[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212/\\_]")
_STRAY_APOSTROPHE = re.compile(r"(?<![^\W_])'|'(?![^\W_])")
_WHITESPACE = re.compile(r"\s+")


def _keep(char: str) -> bool:
    return char == "'" or char.isspace() or unicodedata.category(char)[0] in "LNM"


def normalize(text: str) -> str:
    """Normalise `text` by the "sseu-en-1" rules of the module docstring."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)
    text = _SEPARATORS.sub(" ", text)
    text = "".join(char if _keep(char) else " " for char in text)
    text = _STRAY_APOSTROPHE.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()
