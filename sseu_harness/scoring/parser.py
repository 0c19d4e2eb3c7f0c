"""From a model's free-text answer to a transcript, a scene and a list of events.

The parser never guesses: a field whose labelled line is absent is None and the
reason is in `failure`, so the evaluation can count it as wrong instead of
dropping it. Label words live in `data/parser_labels.toml`.

Decisions, each covered by tests:
- Input: only the first and last `KEEP_CHARS` characters of an answer are read
  (the answer sits at the start, or at the end after CoT reasoning), and control
  characters other than newline and tab are removed; so megabyte answers are
  cheap and harmless. Whitespace runs collapse to one space; code fences go.
- A labelled line is "<label>:" at the start of a line, after optional markdown
  (heading marks, "> ", a bullet or "1." number, bold, a quote); a heading or
  bold label alone on its line ("## Scene", "**Scene**") needs no colon. If its
  value is empty, the next non-empty line is the value, unless that is labelled.
- The last labelled line of a field wins (reasoning comes first). In CoT mode
  only the text after the last "Final answer" marker is read, when there is one.
- Events are split on ";" when the line has one, else on ","; never on " and "
  or "/", which occur inside class names ("cutlery and dishes"). An empty
  "Events:" value opens a bullet list on the following lines. Time stamps are
  removed ("(0.00-2.35)", "[1.2s - 3.4s]", "<0.5,2.3>", "<|1.20|>",
  "0.52-1.30: dog", "from 1.0 to 2.0 seconds", "at 1.5 s"), then bullets,
  numbering, quotes and trailing punctuation; the "none" words give no event;
  duplicates are dropped case-insensitively, keeping the first.
- A field whose value declines ("Scene: I don't know", "I can't transcribe
  this", "Transcript: [inaudible]"; phrases in `data/refusals.toml`, see
  `refusals.py`; a transcript "I don't know" is speech) is listed in
  `refused` and given the empty value (transcript "", scene None, events ()),
  with no failure: it is an answer, scored as wrong, never embedded. So is a
  field with no labelled line when the whole answer declines ("I'm sorry, but
  I can't analyse this audio."). Event items that decline ("dog; unknown") are
  dropped; a list of only such items declines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from sseu_harness.errors import ConfigError
from sseu_harness.files.toml_table import read_table
from sseu_harness.scoring.refusals import is_refusal
from sseu_harness.spec.tasks import MODES, TASK, TASKS

PARSER_VERSION = "sseu-parser-2"  # 2: refusals (data/refusals.toml) give empty predictions
LABELS_FILE = Path(__file__).resolve().parents[1] / "data" / "parser_labels.toml"
KEEP_CHARS = 20_000  # read from each end of an answer; the middle of a longer one is ignored
MAX_SCENE_WORDS = 6  # an unlabelled one-line ASC answer this short is taken as the scene

_DISPLAY = {"transcript": "Transcript", "scene": "Scene", "events": "Events"}
_LABEL_SCAN = 300  # labels sit at a line's start; scanning a prefix keeps regexes linear

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FENCE_LINE = re.compile(r"```[\w+-]*")
_MARKDOWN_PREFIX = r"(?:> ?)?(?:(?P<heading>#{1,6}) ?)?(?:(?:[-*•+]|\d{1,3}[.)]) )?"  # "> ", "## ", "- ", "1. "
_BULLET_ITEM = r"(?:[-*•+] ?|\d{1,3}[.)] |\(\d{1,3}\) ?)"  # "- ", "1. ", "(1) "
_BULLET = re.compile(rf"^{_BULLET_ITEM}")
_BULLETS = re.compile(rf"^{_BULLET_ITEM}+")
_QUOTES = {'"': '"', "“": "”", "'": "'", "`": "`", "‘": "’", "«": "»"}
_EDGE_PUNCT = " .,;:!?-–—"
_LEADING_AND = re.compile(r"^ ?(?:and|&) ", re.IGNORECASE)  # "a, b, and c"
_MAX_PEELS = 4  # layers of quotes/bullets peeled off a value; bounds the work on hostile input

_TIME = r"\d+(?:[.:]\d+)*+(?: ?(?:seconds?|secs?|ms|s)\b)?"
_RANGE_SEP = r"(?:-|–|—|~|to)"
_TIMESTAMPS = re.compile(
    "|".join(
        (
            rf"[(\[<{{] ?(?:(?:from|at|between) )?{_TIME}(?: ?(?:{_RANGE_SEP}|,|and) ?{_TIME})? ?[)\]>}}]",
            r"<\|\d+(?:\.\d+)?\|>",
            rf"(?<![\w.])(?:from )?{_TIME} ?{_RANGE_SEP} ?{_TIME}(?: ?:)?",
            rf"(?<![\w.])between {_TIME} and {_TIME}",
            r"(?<![\w.])(?:at|@) ?\d+(?:\.\d+)? ?(?:seconds?|secs?|s)\b",
        )
    ),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedAnswer:
    transcript: str | None
    scene: str | None
    events: tuple[str, ...] | None  # () is a valid "no events" answer
    failure: str | None  # why a needed field is None, e.g. "no 'Scene:' line"
    refused: tuple[str, ...] = ()  # fields whose answer declined ("transcript", "scene", "events")


@dataclass(frozen=True)
class _Vocabulary:
    label_re: re.Pattern[str]
    field_of_label: dict[str, str]
    marker_re: re.Pattern[str]
    none_words: frozenset[str]


@dataclass(frozen=True)
class _Labelled:
    field: str
    value: str
    quote: str | None  # an opening quote before the label, closed at the line's end


def parse_answer(text: str, task: str, mode: str) -> ParsedAnswer:
    """Extract what (task, mode) needs; joint and CoT answers give all three fields."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; known modes: {', '.join(MODES)}")
    vocab = _vocabulary()
    lines = _clean_lines(text)
    if not any(lines):
        return ParsedAnswer(None, None, None, "empty answer")
    if mode == "independent" and task == "ASR":
        return _whole_transcript(lines, vocab)

    if mode == "cot":
        lines = _after_last_marker(lines, vocab)
    labelled = [_match_label(line, vocab) for line in lines]
    wanted = ("transcript", "scene", "events") if mode != "independent" else (TASK[task].answer_field,)
    whole_declines = is_refusal(" ".join(line for line in lines if line))
    found: dict[str, object] = {}
    failures: list[str] = []
    refused: list[str] = []
    for field in wanted:
        value, failure = _extract(field, lines, labelled, vocab)
        if value is None and field == "scene" and mode == "independent":
            value = _bare_scene(lines, labelled)
            failure = failure if value is None else None
        if _declines(field, value) or (value is None and whole_declines):
            value, failure = _EMPTY[field], None
            refused.append(field)
        found[field] = value
        if failure:
            failures.append(failure)
    return ParsedAnswer(**{field: found.get(field) for field in _DISPLAY}, failure="; ".join(failures) or None,
                        refused=tuple(refused))


_EMPTY = {"transcript": "", "scene": None, "events": ()}


def _declines(field: str, value: object) -> bool:
    """A transcript or scene that declines, or an event list whose every item declined (see `_events`)."""
    if field == "events":
        return isinstance(value, _Declined)
    return isinstance(value, str) and bool(value) and is_refusal(value, transcript=field == "transcript")


class _Declined(tuple):
    """An event list whose items all declined ("Events: unknown"): empty, and marked as a refusal."""


def _clean_lines(text: str) -> list[str]:
    if len(text) > 2 * KEEP_CHARS:
        text = text[:KEEP_CHARS] + "\n" + text[-KEEP_CHARS:]
    for newline in ("\r\n", "\r", "\u2028", "\u2029"):
        text = text.replace(newline, "\n")
    text = _CONTROL.sub("", text)
    lines = (line.strip() for line in text.split("\n"))
    return ["" if _FENCE_LINE.fullmatch(line) else " ".join(line.replace("```", " ").split()) for line in lines]


def _whole_transcript(lines: list[str], vocab: _Vocabulary) -> ParsedAnswer:
    """Independent ASR: the whole answer, less a leading label such as "Transcript:"."""
    lines = [line for line in lines if line]
    first = _match_label(lines[0], vocab)
    if first is not None and first.field == "transcript":
        lines[0] = _close_quote(first)
    transcript = _unwrap(" ".join(line for line in lines if line))
    if not transcript:
        return ParsedAnswer(None, None, None, "empty transcript")
    if is_refusal(transcript, transcript=True):
        return ParsedAnswer("", None, None, None, refused=("transcript",))
    return ParsedAnswer(transcript, None, None, None)


def _after_last_marker(lines: list[str], vocab: _Vocabulary) -> list[str]:
    for index in range(len(lines) - 1, -1, -1):
        match = vocab.marker_re.match(lines[index][:_LABEL_SCAN])
        if match:
            return [lines[index][match.end() :], *lines[index + 1 :]]
    return lines


def _extract(field: str, lines: list[str], labelled: list[_Labelled | None], vocab: _Vocabulary) -> tuple[object, str | None]:
    """The value of the field's last labelled line, or (None, reason)."""
    last = next(((i, e) for i, e in reversed(list(enumerate(labelled))) if e is not None and e.field == field), None)
    if last is None:
        return None, f"no '{_DISPLAY[field]}:' line"
    index, entry = last
    value = _close_quote(entry)
    following = _following_lines(index, lines, labelled, vocab) if not value else []
    if field == "events":
        return _events([value] if value else following, vocab), None
    value = value or (following[0] if following else "")
    if field == "transcript":
        return _unwrap(value), None  # an empty transcript is an answer: nothing was said
    scene = _clean_item(value)
    return (scene, None) if scene else (None, f"empty '{_DISPLAY[field]}:' line")


def _following_lines(index: int, lines: list[str], labelled: list[_Labelled | None], vocab: _Vocabulary) -> list[str]:
    """Lines continuing an empty labelled value: a bullet list, or else one line."""
    start = next((i for i in range(index + 1, len(lines)) if lines[i]), None)
    if start is None or labelled[start] or vocab.marker_re.match(lines[start][:_LABEL_SCAN]):
        return []
    if not _BULLET.match(lines[start]):
        return [lines[start]]
    block = []
    for i in range(start, len(lines)):
        if not lines[i] or labelled[i] or not _BULLET.match(lines[i]):
            break
        block.append(lines[i])
    return block


def _events(value_lines: list[str], vocab: _Vocabulary) -> tuple[str, ...]:
    events: list[str] = []
    seen: set[str] = set()
    declined = False
    for line in value_lines:
        line = " ".join(_TIMESTAMPS.sub(" ", line).split())
        parts = line.split(";") if ";" in line else line.split(",")
        for k, part in enumerate(parts):
            if ";" not in line and k > 0:
                part = _LEADING_AND.sub("", part)
            event = _clean_item(part)
            key = event.casefold()
            if event and key not in vocab.none_words and is_refusal(event):
                declined = True
            elif event and key not in vocab.none_words and key not in seen:
                seen.add(key)
                events.append(event)
    return _Declined() if declined and not events else tuple(events)


def _bare_scene(lines: list[str], labelled: list[_Labelled | None]) -> str | None:
    """An unlabelled answer of one short line is the scene itself ("Cafe.")."""
    content = [i for i, line in enumerate(lines) if line]
    if len(content) != 1 or labelled[content[0]]:
        return None
    scene = _clean_item(lines[content[0]])
    return scene if scene and len(scene.split()) <= MAX_SCENE_WORDS else None


def _match_label(line: str, vocab: _Vocabulary) -> _Labelled | None:
    match = vocab.label_re.match(line[:_LABEL_SCAN])
    if match is None or not (match.group("colon") or match.group("heading") or match.group("bold")):
        return None  # without a colon, only a heading ("## Scene") or bold ("**Scene**") line is a label
    field = vocab.field_of_label[" ".join(match.group("label").lower().split())]
    return _Labelled(field, line[match.end() :], match.group("quote"))


def _close_quote(labelled: _Labelled) -> str:
    """Drop the closing quote of a quoted labelled line ('"Scene: cafe"')."""
    value = labelled.value
    if labelled.quote and value.endswith(_QUOTES[labelled.quote]):
        value = value[: -len(_QUOTES[labelled.quote])]
    return value.strip()


def _unwrap(text: str) -> str:
    """Strip bold markers and matched quote pairs around a value."""
    for _ in range(_MAX_PEELS):
        stripped = text.strip().strip("*").strip()
        if len(stripped) >= 2 and stripped[0] in _QUOTES:
            close = _QUOTES[stripped[0]]
            if stripped.endswith(close) and len(stripped) > len(close):
                stripped = stripped[1 : -len(close)]
            elif stripped[-1] in ".!?" and stripped[:-1].endswith(close) and len(stripped) > 2:
                stripped = stripped[1 : -1 - len(close)]
        if stripped == text:
            break
        text = stripped
    return text


def _clean_item(text: str) -> str:
    """A scene or one event: no bullet, numbering, quotes, brackets, edge punctuation."""
    for _ in range(_MAX_PEELS):
        cleaned = _unwrap(_BULLETS.sub("", text.strip())).strip(_EDGE_PUNCT)
        if cleaned.startswith("<") and cleaned.endswith(">"):
            cleaned = cleaned[1:-1]
        cleaned = " ".join(cleaned.split())
        if cleaned == text:
            break
        text = cleaned
    return text


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    raw = read_table(LABELS_FILE, "parser labels", ("version", *_DISPLAY, "none", "final_answer"))

    def words(key: str) -> list[str]:
        value = raw.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(w, str) and w.strip() for w in value):
            raise ConfigError(f"{LABELS_FILE}: {key!r} must be a non-empty list of non-empty strings; fix: {key} = [\"...\"]")
        return [" ".join(w.lower().split()) for w in value]

    field_of_label = {label: field for field in _DISPLAY for label in words(field)}
    labels = "|".join(_alternatives(field_of_label))
    markers = "|".join(_alternatives(words("final_answer")))
    label_re = (
        rf"{_MARKDOWN_PREFIX}(?P<quote>[\"“'`])?(?P<bold>[*_]*+) ?"
        rf"(?P<label>{labels}) ?[*_]*+ ?(?:(?P<colon>[:：])[*_]*+ ?|$)"
    )
    return _Vocabulary(
        label_re=re.compile(label_re, re.IGNORECASE),
        field_of_label=field_of_label,
        marker_re=re.compile(rf"{_MARKDOWN_PREFIX}[*_]*+ ?(?:{markers}) ?[*_]*+ ?(?:[:：]|$)[*_]*+ ?", re.IGNORECASE),
        none_words=frozenset(w.casefold() for w in words("none")),
    )


def _alternatives(words: Iterable[str]) -> list[str]:
    """Regex alternatives, longest first (lines are whitespace-collapsed, so spaces match)."""
    return [re.escape(w) for w in sorted(words, key=len, reverse=True)]
