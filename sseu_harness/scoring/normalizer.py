"""The text normaliser applied to references and hypotheses before WER (`--sseu-normalizer`).

WER depends on the normaliser as much as on the model ("It's twenty past ten"
against "it's 20 past 10" is 50 % WER without one that writes numbers alike),
so each normaliser has an id naming its rules and, for a packaged one, the
package's exact version. The id is recorded in every record and summary, and
`sseu merge` refuses reports of different ids.

- ``whisper-en`` (default), id ``whisper-en-1/whisper-normalizer-0.1.15``:
  Whisper's English normaliser, the field's standard (the Open ASR
  Leaderboard and most LALM harnesses apply it), taken unchanged from the PyPI
  package `whisper-normalizer`, pinned to that exact version: numbers become
  digits ("twenty past ten" -> "20 past 10"), British spellings American
  ("colour" -> "color"), contractions are expanded ("it's" -> "it is"), filler
  words ("uh", "hmm") and punctuation go. One step of ours runs first:
  typographic apostrophes and quotes become ASCII, because the package splits
  "don’t" into "don t" while it expands "don't" to "do not", which would charge
  a model two errors for a typographic apostrophe. The "-1" of the id versions
  that step.
- ``sseu-en-1``: the harness's earlier minimal rules (`sseu_en.py`): case,
  punctuation and Unicode forms only; numbers, spellings and contractions are
  left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata

from sseu_harness.errors import ConfigError
from sseu_harness.scoring import sseu_en

WHISPER_PACKAGE = "whisper-normalizer"
WHISPER_PINNED = "0.1.15"  # the exact version pyproject.toml pins; part of the id
DEFAULT_NORMALIZER = "whisper-en"

_TYPOGRAPHIC = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'",  # ‘ ’ ‚ ‛ ʼ
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',  # “ ” „ ‟
})


@dataclass(frozen=True)
class Normalizer:
    name: str  # what --sseu-normalizer takes
    id: str  # what records and summaries carry
    apply: Callable[[str], str]


def _whisper_en() -> Normalizer:
    try:
        installed = metadata.version(WHISPER_PACKAGE)
    except metadata.PackageNotFoundError:
        installed = None
    if installed != WHISPER_PINNED:
        raise ConfigError(
            f"the whisper-en normaliser needs {WHISPER_PACKAGE}=={WHISPER_PINNED} (its version is part of the "
            f"normaliser id), but {'version ' + installed if installed else 'no version'} is installed; fix: "
            f"pip install '{WHISPER_PACKAGE}=={WHISPER_PINNED}', or choose --sseu-normalizer sseu-en-1"
        )
    from whisper_normalizer.english import EnglishTextNormalizer

    whisper = EnglishTextNormalizer()
    return Normalizer("whisper-en", f"whisper-en-1/{WHISPER_PACKAGE}-{WHISPER_PINNED}",
                      lambda text: whisper(text.translate(_TYPOGRAPHIC)))


def _sseu_en_1() -> Normalizer:
    return Normalizer("sseu-en-1", sseu_en.VERSION, sseu_en.normalize)


_FACTORIES = {"whisper-en": _whisper_en, "sseu-en-1": _sseu_en_1}
NORMALIZERS = tuple(_FACTORIES)


def get_normalizer(name: str = DEFAULT_NORMALIZER) -> Normalizer:
    """The normaliser called `name` (built once per process); an unknown name is an error listing the choices."""
    if name not in _FACTORIES:
        raise ConfigError(f"--sseu-normalizer {name!r} is not a known normaliser; choose one of: "
                          f"{', '.join(NORMALIZERS)} (default {DEFAULT_NORMALIZER})")
    return _built(name)


@lru_cache(maxsize=None)
def _built(name: str) -> Normalizer:
    return _FACTORIES[name]()
