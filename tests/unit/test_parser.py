"""Answer parser: realistic model outputs, timestamps, failures, and properties."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.parser import KEEP_CHARS, PARSER_VERSION, ParsedAnswer, parse_answer
from sseu_harness.scoring.refusals import is_refusal
from sseu_harness.spec.tasks import MODES, TASKS


def test_version_is_declared() -> None:
    assert PARSER_VERSION == "sseu-parser-2"


# --- independent ASR: the whole answer is the transcript -------------------------

@pytest.mark.parametrize(
    ("answer", "transcript"),
    [
        ("Please call Stella.", "Please call Stella."),
        ("  Please call Stella.\n", "Please call Stella."),
        ("Transcript: Please call Stella.", "Please call Stella."),
        ("**Transcription:** Please call Stella.", "Please call Stella."),
        ('The transcription is: "Please call Stella."', "Please call Stella."),
        ('"Please call Stella."', "Please call Stella."),
        ('"Please call Stella".', "Please call Stella"),
        ("The original content of this audio is: 'Ask her to bring these things.'", "Ask her to bring these things."),
        ("```\nPlease call Stella.\n```", "Please call Stella."),
        ("```text\nTranscript: Please call\nStella.\n```", "Please call Stella."),
        ("Please\tcall   Stella.", "Please call Stella."),
        ("It's a 'quoted' word", "It's a 'quoted' word"),  # inner quotes are kept
        ("Note: the speaker says hello", "Note: the speaker says hello"),  # not a label: kept
    ],
)
def test_independent_asr(answer: str, transcript: str) -> None:
    assert parse_answer(answer, "ASR", "independent") == ParsedAnswer(transcript, None, None, None)


@pytest.mark.parametrize(("answer", "failure"), [("", "empty answer"), (" \n\t\n", "empty answer"),
                                                 ("```\n```", "empty answer"), ("Transcript:", "empty transcript")])
def test_independent_asr_empty_is_a_failure(answer: str, failure: str) -> None:
    assert parse_answer(answer, "ASR", "independent") == ParsedAnswer(None, None, None, failure)


# --- independent ASC ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("answer", "scene"),
    [
        ("Scene: cafe", "cafe"),
        ("scene: Metro station.", "Metro station"),
        ("SCENE: grocery store", "grocery store"),
        ("**Scene:** busy city center", "busy city center"),
        ("**Scene**: residential area", "residential area"),
        ("- Scene: home", "home"),
        ('"Scene: home"', "home"),
        ("Scene: \"cafe or restaurant\".", "cafe or restaurant"),
        ("Scene: <cafe>", "cafe"),
        ("Acoustic scene: metro station", "metro station"),
        ("## Scene\n\ngrocery store", "grocery store"),
        ("Scene:\n- cafe", "cafe"),
        (
            "The background has clinking cups, an espresso machine and chatter.\n\nScene: cafe\n\n"
            "The many voices and the dishes suggest a restaurant or cafe.",
            "cafe",
        ),
        ("I first thought Scene: street.\nScene: metro station", "metro station"),  # last labelled line wins
        ("```\nScene: home\n```", "home"),
        # No label, one short line: the line is the scene.
        ("Grocery store.", "Grocery store"),
        ("A busy metro station", "A busy metro station"),
    ],
)
def test_independent_asc(answer: str, scene: str) -> None:
    assert parse_answer(answer, "ASC", "independent") == ParsedAnswer(None, scene, None, None)


@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        ("The recording was probably made somewhere with many people around, maybe a market.", "no 'Scene:' line"),
        ("It sounds like a cafe.\nThere are dishes.", "no 'Scene:' line"),
        ("Events: dog; cat", "no 'Scene:' line"),  # another field's line is not a scene
        ("Scene:", "empty 'Scene:' line"),
        ("Scene: .\nEvents: dog", "empty 'Scene:' line"),
        ("", "empty answer"),
    ],
)
def test_independent_asc_failures(answer: str, failure: str) -> None:
    assert parse_answer(answer, "ASC", "independent") == ParsedAnswer(None, None, None, failure)


# --- independent AT ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answer", "events"),
    [
        ("Events: dog; vacuum cleaner; running water", ("dog", "vacuum cleaner", "running water")),
        ("events: Dog; dog; DOG ; cat", ("Dog", "cat")),  # dedupe keeps the first spelling
        ("**Sound events:** alarm bell ringing; blender.", ("alarm bell ringing", "blender")),
        # Without ";" the separator is ","; " and " is never one ("cutlery and dishes").
        ("Events: cutlery and dishes, footsteps, and birds singing.", ("cutlery and dishes", "footsteps", "birds singing")),
        ("Events: cutlery and dishes; brakes squeaking, metro approaching", ("cutlery and dishes", "brakes squeaking, metro approaching")),
        ("Events: electric shaver/toothbrush", ("electric shaver/toothbrush",)),
        ('Events: "dog"; \'cat\'; `car`', ("dog", "cat", "car")),
        ("Events:\n- dog\n- cat\n* frying\n\nThis suggests a home.", ("dog", "cat", "frying")),
        ("Events:\n1. dog barking\n2. blender\n3) dishes", ("dog barking", "blender", "dishes")),
        ("Events:\ndog; cat\nThe dog is loud.", ("dog", "cat")),  # unbulleted: one line only
        ("Non-speech events: wind blowing; car", ("wind blowing", "car")),
        # Time stamps as Qwen2-Audio and others write them.
        ("Events: dog barking (0.00-2.35); speech (1.2-3.0)", ("dog barking", "speech")),
        ("Events: dog barking [1.2s - 3.4s]; cat [0.0s-1.0s]", ("dog barking", "cat")),
        ("Events: dog barking <0.5,2.3>, cat <3.1,4.0>", ("dog barking", "cat")),
        ("Events: dog barking (0.50s to 2.30s)", ("dog barking",)),
        ("Events: dog<|0.00|><|2.35|>; cat<|3.00|>-<|4.10|>", ("dog", "cat")),
        ("Events:\n- 0.52-1.30: dog\n- 1.5s-3.0s: running water", ("dog", "running water")),
        ("Events: dog from 1.0 to 2.0 seconds; cat between 2 and 3 s", ("dog", "cat")),
        ("Events: car at 1.5 s; birds singing (at 2s)", ("car", "birds singing")),
        ("Events: dog barking (0.00-2.35), (3.10-4.00); dog barking [5.0s-6.0s]", ("dog barking",)),
        ("Events: dog: 0.5-1.2", ("dog",)),
        # Valid "no events" answers give an empty tuple, not a failure.
        ("Events: none", ()),
        ("Events: None.", ()),
        ("**Events:** No events", ()),
        ("Events: nothing", ()),
        ("Events: -", ()),
        ("Events:", ()),
        ("Events: none; dog", ("dog",)),
    ],
)
def test_independent_at(answer: str, events: tuple[str, ...]) -> None:
    assert parse_answer(answer, "AT", "independent") == ParsedAnswer(None, None, events, None)


@pytest.mark.parametrize("answer", ["I hear a dog and a cat.", "dog; cat", "Scene: home"])
def test_independent_at_without_events_line_is_a_failure(answer: str) -> None:
    # Never guess: an unlabelled list is not read as events.
    assert parse_answer(answer, "AT", "independent") == ParsedAnswer(None, None, None, "no 'Events:' line")


# --- joint -----------------------------------------------------------------------------

JOINT_CLEAN = "Transcript: Please call Stella.\nScene: home\nEvents: dog; vacuum cleaner"


@pytest.mark.parametrize("task", TASKS)
def test_joint_returns_all_fields_for_any_task(task: str) -> None:
    expected = ParsedAnswer("Please call Stella.", "home", ("dog", "vacuum cleaner"), None)
    assert parse_answer(JOINT_CLEAN, task, "joint") == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "Sure! Here is my analysis of the audio.\n\n```\nTranscript: Please call Stella.\nScene: Home\n"
            "Events: dog; vacuum cleaner\n```\nLet me know if you need more.",
            ParsedAnswer("Please call Stella.", "Home", ("dog", "vacuum cleaner"), None),
        ),
        (
            "**Speech transcript:** Ask her to bring these things.\n**Acoustic scene:** metro station\n"
            "**Sound events:** metro approaching; footsteps",
            ParsedAnswer("Ask her to bring these things.", "metro station", ("metro approaching", "footsteps"), None),
        ),
        (
            "- Transcript: \"Six spoons of fresh snow peas.\"\n- Scene: grocery store.\n- Events: none",
            ParsedAnswer("Six spoons of fresh snow peas.", "grocery store", (), None),
        ),
        (
            "TRANSCRIPT: hello\nSCENE: cafe\nEVENTS:\n- cutlery and dishes (0.0-3.2)\n- footsteps",
            ParsedAnswer("hello", "cafe", ("cutlery and dishes", "footsteps"), None),
        ),
        (
            "Transcript:\nScene: city center\nEvents: car",  # nothing was said: an empty transcript
            ParsedAnswer("", "city center", ("car",), None),
        ),
        (
            "Transcript: Please call Stella.\nEvents: dog",
            ParsedAnswer("Please call Stella.", None, ("dog",), "no 'Scene:' line"),
        ),
        (
            "The speaker asks someone to call Stella, and a dog barks at home.",
            ParsedAnswer(None, None, None, "no 'Transcript:' line; no 'Scene:' line; no 'Events:' line"),
        ),
        ("", ParsedAnswer(None, None, None, "empty answer")),
    ],
)
def test_joint_examples(answer: str, expected: ParsedAnswer) -> None:
    assert parse_answer(answer, "ASC", "joint") == expected


# --- CoT -------------------------------------------------------------------------------

COT = """\
Let me analyse the recording step by step.

1. Energy and onset: the background (a vacuum cleaner) is loud at first; speech starts at about 1.2 s \
and is slightly louder than the background.
2. Transcription: Please call Stela.
3. Scene candidates: home, cafe or restaurant, grocery store.
4. Event candidates: vacuum cleaner; dog; running water.
5. Cross-check: a vacuum cleaner and a dog fit a home; running water is too faint, so I drop it.
Scene: home (preliminary)

**Final answer:**
Transcript: Please call Stella.
Scene: home
Events: vacuum cleaner; dog
"""


def test_cot_reads_after_the_final_answer_marker() -> None:
    assert parse_answer(COT, "AT", "cot") == ParsedAnswer("Please call Stella.", "home", ("vacuum cleaner", "dog"), None)


@pytest.mark.parametrize(
    "marker",
    ["Final answer:", "**Final Answer**", "### Final answer", "FINAL ANSWER:", "6. Final answer:", "Final output:"],
)
def test_cot_marker_spellings(marker: str) -> None:
    answer = COT.replace("**Final answer:**", marker)
    assert parse_answer(answer, "ASR", "cot").transcript == "Please call Stella."


def test_cot_answer_on_the_marker_line() -> None:
    answer = "1. ...\n2. Transcription: wrong\nFinal answer: Transcript: right\nScene: cafe\nEvents: none"
    assert parse_answer(answer, "ASR", "cot") == ParsedAnswer("right", "cafe", (), None)


def test_cot_uses_the_last_marker() -> None:
    answer = "Final answer: (to follow)\nScene: street\n" + COT
    assert parse_answer(answer, "ASC", "cot").scene == "home"


def test_cot_without_marker_takes_the_last_labelled_lines() -> None:
    answer = COT.replace("**Final answer:**\n", "")
    assert parse_answer(answer, "ASC", "cot") == ParsedAnswer("Please call Stella.", "home", ("vacuum cleaner", "dog"), None)


def test_cot_field_missing_after_marker_is_none() -> None:
    # The reasoning's "Transcription:" line is not used when the final answer lacks one: never guess.
    answer = COT.replace("Transcript: Please call Stella.\n", "")
    assert parse_answer(answer, "ASR", "cot") == ParsedAnswer(None, "home", ("vacuum cleaner", "dog"), "no 'Transcript:' line")


def test_cot_that_stops_in_the_reasoning() -> None:
    answer = "1. Energy and onset: speech starts at 0.4 s.\n2. Transcription: Please call Stella.\n3. Scene candidates: home"
    parsed = parse_answer(answer, "ASC", "cot")
    assert parsed.scene is None and parsed.events is None and parsed.failure == "no 'Scene:' line; no 'Events:' line"
    assert parsed.transcript == "Please call Stella."  # the only labelled transcript line there is


# --- input handling ------------------------------------------------------------------------

def test_control_characters_and_crlf_are_tolerated() -> None:
    answer = "\x00Transcript: Please\x07 call Stella.\r\nScene: home\x1b\r\nEvents: dog\x7f; cat\r\n"
    assert parse_answer(answer, "ASR", "joint") == ParsedAnswer("Please call Stella.", "home", ("dog", "cat"), None)


def test_long_answer_keeps_both_ends() -> None:
    filler = "blah " * (KEEP_CHARS // 2)
    head = parse_answer("Transcript: hello\nScene: home\nEvents: dog\n" + filler, "ASC", "joint")
    tail = parse_answer(filler + "\nTranscript: hello\nScene: home\nEvents: dog", "ASC", "joint")
    assert head == tail == ParsedAnswer("hello", "home", ("dog",), None)


def test_unknown_task_or_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="known tasks"):
        parse_answer("x", "SED", "joint")
    with pytest.raises(ConfigError, match="known modes"):
        parse_answer("x", "ASR", "zero-shot")


# --- properties ------------------------------------------------------------------------------

NONE_WORDS = {"none", "no events", "no event", "nothing", "null", "no sounds", "no sound events", "none detected"}
_words = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=10)
_phrase = st.lists(_words, min_size=1, max_size=4).map(" ".join).filter(lambda p: not is_refusal(p))  # "pass"
event_names = st.lists(
    _phrase.filter(lambda e: e.lower() not in NONE_WORDS), max_size=6, unique_by=lambda e: e.casefold()
)
transcripts = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789,.?!'-"), max_size=80).filter(
    lambda t: not t.strip().startswith(("'", "-", ".")) and "  " not in t.strip() and not is_refusal(t)
)
prose = st.lists(st.text(st.sampled_from("abcdefgh ijklmnop qrstuvwxyz.,!?"), max_size=60), max_size=3).map("\n".join)


def _random_case(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips))


@st.composite
def joint_answers(draw) -> tuple[str, str, str, list[str]]:
    transcript, scene, events = draw(transcripts), draw(_phrase), draw(event_names)
    lines = [
        f"{_random_case(draw, 'transcript')}: {transcript}",
        f"{_random_case(draw, 'scene')}: {scene}",
        f"{_random_case(draw, 'events')}: {'; '.join(events) if events else 'none'}",
    ]
    return draw(prose) + "\n" + "\n".join(lines) + "\n" + draw(prose), transcript, scene, events


@given(joint_answers(), st.sampled_from(TASKS))
def test_property_joint_round_trip(case, task: str) -> None:
    answer, transcript, scene, events = case
    parsed = parse_answer(answer, task, "joint")
    assert parsed == ParsedAnswer(" ".join(transcript.split()), scene, tuple(events), None)


@given(joint_answers())
def test_property_cot_round_trip(case) -> None:
    answer, transcript, scene, events = case
    reasoning = "1. Energy and onset: speech first.\n2. Transcription: something else\n3. Scene candidates: x\n"
    parsed = parse_answer(reasoning + "Scene: decoy\nFinal answer:\n" + answer, "AT", "cot")
    assert parsed == ParsedAnswer(" ".join(transcript.split()), scene, tuple(events), None)


@given(st.text(), st.sampled_from(TASKS), st.sampled_from(MODES))
def test_property_never_raises(text: str, task: str, mode: str) -> None:
    parsed = parse_answer(text, task, mode)
    assert isinstance(parsed, ParsedAnswer)
    assert (parsed.failure is None) or isinstance(parsed.failure, str)
    if parsed.events is not None:
        assert all(e and e == e.strip() for e in parsed.events)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=64, max_size=64), st.sampled_from(TASKS), st.sampled_from(MODES))
def test_property_huge_hostile_answer_is_fast(seed: bytes, task: str, mode: str) -> None:
    # 2 MB from a random 64-byte pattern: control characters, brackets, digits, quotes, labels.
    alphabet = "\x00\x1b\x7f\r\n\t ([<{}>])|*_`\"'-.,;:0123456789sEvents:Scene:Transcript:Final answer:"
    unit = "".join(alphabet[b % len(alphabet)] for b in seed)
    answer = (unit * (2_000_000 // len(unit) + 1))[:2_000_000]
    started = time.perf_counter()
    parse_answer(answer, task, mode)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "answer",
    [
        "(" * 2_000_000,
        "Events: " + "(1" * 1_000_000,
        "Events: " + "1 " * 1_000_000,
        "Events: " + "- " * 1_000_000,
        "Scene: " + '"' * 2_000_000,
        "Events:" + "\n- a" * 700_000,
        "*" * 2_000_000 + "\nScene: x",
        "\n" * 2_000_000,
        " " * 2_000_000,
    ],
    ids=["brackets", "bracket-digits", "digits", "bullets", "quotes", "bullet-list", "stars", "newlines", "spaces"],
)
@pytest.mark.parametrize("mode", MODES)
def test_pathological_answers_are_fast(answer: str, mode: str) -> None:
    for task in TASKS:
        started = time.perf_counter()
        parse_answer(answer, task, mode)
        assert time.perf_counter() - started < 1.0


# --- refusals (issue 11.6) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "task", "mode", "expected"),
    [
        ("Scene: I don't know", "ASC", "independent", ParsedAnswer(None, None, None, None, ("scene",))),
        ("Scene: Unknown.", "ASC", "independent", ParsedAnswer(None, None, None, None, ("scene",))),
        ("I’m not sure.", "ASC", "independent", ParsedAnswer(None, None, None, None, ("scene",))),
        ("**Scene:** cannot be determined", "ASC", "independent", ParsedAnswer(None, None, None, None, ("scene",))),
        ("I'm sorry, but I can't transcribe this audio.", "ASR", "independent",
         ParsedAnswer("", None, None, None, ("transcript",))),
        ("Transcript: [inaudible]", "ASR", "independent", ParsedAnswer("", None, None, None, ("transcript",))),
        ("Events: unknown", "AT", "independent", ParsedAnswer(None, None, (), None, ("events",))),
        ("Events: unknown; unidentified sounds", "AT", "independent", ParsedAnswer(None, None, (), None, ("events",))),
        ("I am unable to identify the sound events in this clip.", "AT", "independent",
         ParsedAnswer(None, None, (), None, ("events",))),
        ("Unable to determine the acoustic scene from this recording.", "ASC", "independent",
         ParsedAnswer(None, None, None, None, ("scene",))),
    ],
)
def test_a_declining_answer_is_an_empty_refused_prediction(answer, task, mode, expected) -> None:
    assert parse_answer(answer, task, mode) == expected


def test_joint_refusals_are_per_field() -> None:
    answer = "Transcript: Please call Stella.\nScene: not sure\nEvents: dog; unknown"
    assert parse_answer(answer, "ASC", "joint") == ParsedAnswer("Please call Stella.", None, ("dog",), None, ("scene",))
    whole = "I'm sorry, but I cannot analyze this audio clip."
    assert parse_answer(whole, "AT", "joint") == ParsedAnswer("", None, (), None, ("transcript", "scene", "events"))


@pytest.mark.parametrize(
    ("answer", "task", "expected"),
    [
        # a transcript that merely starts like a refusal, or says "I don't know", is speech
        ("I can't believe it is over.", "ASR", ParsedAnswer("I can't believe it is over.", None, None, None)),
        ("I don't know.", "ASR", ParsedAnswer("I don't know.", None, None, None)),
        ("It's easy to tell the depth of a well.", "ASR",
         ParsedAnswer("It's easy to tell the depth of a well.", None, None, None)),
        # a hedge that still names a scene is an answer; "none" is a valid "no events"
        ("Scene: not sure, maybe a cafe", "ASC", ParsedAnswer(None, "not sure, maybe a cafe", None, None)),
        ("Events: none", "AT", ParsedAnswer(None, None, (), None)),
        # an answer without the field that does not decline stays a parse failure
        ("The weather is nice.", "AT", ParsedAnswer(None, None, None, "no 'Events:' line")),
    ],
)
def test_answers_that_do_not_decline_are_kept(answer, task, expected) -> None:
    assert parse_answer(answer, task, "independent") == expected


def test_every_refusal_phrase_of_the_data_file_declines_and_the_loader_checks_it(tmp_path, monkeypatch) -> None:
    import tomllib

    from sseu_harness.errors import ConfigError
    from sseu_harness.scoring import refusals

    data = tomllib.loads(refusals.REFUSALS_FILE.read_text(encoding="utf-8"))
    for phrase in data["exact"]:
        assert parse_answer(f"Scene: {phrase.capitalize()}.", "ASC", "independent").refused == ("scene",), phrase
    for phrase in data["transcript_exact"]:
        assert parse_answer(f"Transcript: [{phrase}]", "ASR", "joint").refused == ("transcript",), phrase
    for phrase in data["starts"]:
        assert parse_answer(f"{phrase.capitalize()} this, sorry.", "ASR", "independent").refused == ("transcript",), phrase
    bad = tmp_path / "refusals.toml"
    bad.write_text('exact = ["Not Sure"]\ntranscript_exact = ["inaudible"]\nstarts = ["i can\'t transcribe"]\n')
    monkeypatch.setattr(refusals, "REFUSALS_FILE", bad)
    refusals._phrases.cache_clear()
    try:
        with pytest.raises(ConfigError, match="'Not Sure' would never match; fix: write it normalised, as 'not sure'"):
            refusals.is_refusal("x")
    finally:
        monkeypatch.undo()
        refusals._phrases.cache_clear()
