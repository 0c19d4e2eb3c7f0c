"""The normalisers: the default (Whisper's English, pinned) on numbers, spellings and contractions;
"sseu-en-1": each rule of its docstring on concrete strings; the choice and its id."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import jiwer
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.metrics import word_error_rate
from sseu_harness.scoring.normalizer import DEFAULT_NORMALIZER, NORMALIZERS, get_normalizer
from sseu_harness.scoring.sseu_en import VERSION, normalize

WHISPER = get_normalizer("whisper-en")
SSEU = get_normalizer("sseu-en-1")


def test_version_is_pinned() -> None:
    assert VERSION == "sseu-en-1" and SSEU.id == "sseu-en-1"


def test_default_is_whisper_with_the_pinned_package_version_in_its_id() -> None:
    assert DEFAULT_NORMALIZER == "whisper-en" and get_normalizer() is WHISPER
    assert set(NORMALIZERS) == {"whisper-en", "sseu-en-1"}
    installed = metadata.version("whisper-normalizer")
    assert WHISPER.id == f"whisper-en-1/whisper-normalizer-{installed}"
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert f"whisper-normalizer=={installed}" in pyproject["project"]["dependencies"]


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="whisper-en, sseu-en-1"):
        get_normalizer("whisper")


@pytest.mark.parametrize(
    ("reference", "hypothesis", "whisper_wer", "sseu_wer"),
    [
        # numbers: the example, 2 of 4 words differ under sseu-en-1
        ("It's twenty past ten.", "it's 20 past 10", 0.0, 50.0),
        ("She bought six spoons and five slabs", "she bought 6 spoons and 5 slabs", 0.0, 100 * 2 / 7),
        # British reference text (VCTK) against American spelling
        ("The colour of the centre is grey.", "the color of the center is gray", 0.0, 100 * 3 / 7),
        ("I travelled to the theatre", "I traveled to the theater", 0.0, 40.0),
        # contractions against their expansions
        ("He won't go, she's gone", "he will not go she has gone", 0.0, None),
        ("Don’t stop", "do not stop", 0.0, None),  # typographic apostrophe, expanded like "don't"
    ],
)
def test_whisper_default_on_numbers_spellings_and_contractions(reference, hypothesis, whisper_wer, sseu_wer) -> None:
    assert word_error_rate([reference], [hypothesis]) == pytest.approx(whisper_wer)
    if sseu_wer is not None:
        assert word_error_rate([reference], [hypothesis], SSEU) == pytest.approx(sseu_wer)
        # sseu-en-1 checked against jiwer on the strings normalised by hand
        assert sseu_wer == pytest.approx(100 * jiwer.wer(normalize(reference), normalize(hypothesis)))


def test_whisper_default_is_the_package_unchanged_on_ascii_text() -> None:
    package = EnglishTextNormalizer()
    for text in ["Mr. Smith paid $20 on the 3rd of May.", "Hmm, it's nineteen ninety-nine, colour!", "uh, OK"]:
        assert WHISPER.apply(text) == package(text)
    # the one step of ours: typographic apostrophes and quotes become ASCII first
    assert WHISPER.apply("it’s “done”") == package("it's \"done\"") == "it is done"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The CAT, sat!", "the cat sat"),
        ("Please call Stella.", "please call stella"),
        ("Don’t STOP", "don't stop"),  # curly apostrophe -> ASCII, kept inside the word
        ("rock'n'roll at o'clock", "rock'n'roll at o'clock"),
        ("'hello' said the dogs' owner", "hello said the dogs owner"),  # stray apostrophes go
        ("‘quoted’ and “double”", "quoted and double"),
        ("well-known and/or snake_case back\\slash", "well known and or snake case back slash"),
        ("en–dash em—dash minus−sign", "en dash em dash minus sign"),
        ("Mr. Smith, hi?! (yes) [no] {maybe}", "mr smith hi yes no maybe"),
        ("it's 3.5% of $20 & more", "it's 3 5 of 20 more"),
        ("ＦＵＬＬ width ﬁne", "full width fine"),  # NFKC
        ("  a\u00a0 b\t\nc  ", "a b c"),  # no-break space, tabs, newlines
        ("café naïve", "café naïve"),  # letters with accents are letters
        ("'' -- ...", ""),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_idempotent_on_examples() -> None:
    for text in ["Don’t STOP!", "'a' b-c/d", "Mr. X's dogs'"]:
        assert normalize(normalize(text)) == normalize(text)
