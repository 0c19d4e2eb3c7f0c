"""The "sseu-en-1" normaliser: each rule of its docstring on concrete strings."""

from __future__ import annotations

import pytest

from sseu_harness.normalizer import NORMALIZER_VERSION, normalize


def test_version_is_pinned() -> None:
    assert NORMALIZER_VERSION == "sseu-en-1"


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
