"""Manifest loading: the schema, and clear errors for each kind of broken row."""

from __future__ import annotations

import json

import pytest

from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.errors import ManifestError
from tests.helpers.sets import item_row, write_set


def test_folder_or_file_loads_the_same_items(small_set):
    by_file, by_folder = load_manifest(small_set), load_manifest(small_set.parent)
    assert by_file.items == by_folder.items
    assert by_file.items[0].background.event_labels == ("dog",)
    assert len(by_file.sha256) == 64


def test_missing_manifest_names_the_path(tmp_path):
    with pytest.raises(ManifestError, match=str(tmp_path / "nowhere")):
        load_manifest(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda row: row.pop("speech"), "lacks field 'speech'"),
        (lambda row: row["speech"].pop("transcript"), "lacks field 'transcript'"),
        (lambda row: row["background"].update(scene="beach"), "scene 'beach' is not in the taxonomy"),
        (lambda row: row["background"]["events"].append({"label": "speech", "onset": 0, "offset": 1}), "event 'speech' is not in the taxonomy"),
        (lambda row: row["background"]["events"].append({"label": "dog", "onset": 2, "offset": 1}), "need 0 <= onset < offset"),
        (lambda row: row["speech"].update(onset="soon"), "speech.onset must be float"),
        (lambda row: row["speech"].update(path="../../etc/passwd"), "escapes the data root"),
        (lambda row: row["background"].update(path="/etc/passwd"), "escapes the data root"),
        (lambda row: row["background"].update(speech_labels="Speech"), "background.speech_labels must be a list"),
        (lambda row: row["background"].update(speech_labels=["Speech", 3]), "background.speech_labels must be a list"),
    ],
)
def test_broken_rows_are_refused_with_file_and_line(tmp_path, mutate, message):
    row = item_row("a", "s.wav", "b.wav")
    mutate(row)
    path = write_set(tmp_path, [item_row("ok", "s.wav", "b.wav"), row])
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(path)
    if "escapes" not in message:
        assert f"{path}:3" in str(info.value)


def test_wrong_schema_duplicate_ids_and_bad_json(tmp_path):
    path = write_set(tmp_path, [item_row("a", "s.wav", "b.wav")])
    text = path.read_text()
    path.write_text(text.replace("sseu-manifest/1", "sseu-manifest/9"))
    with pytest.raises(ManifestError, match="schema is 'sseu-manifest/9'"):
        load_manifest(path)
    path.write_text(text + json.dumps(item_row("a", "s.wav", "b.wav")) + "\n")
    with pytest.raises(ManifestError, match="duplicate item id 'a'"):
        load_manifest(path)
    path.write_text(text + "{not json\n")
    with pytest.raises(ManifestError, match=":3: not valid JSON"):
        load_manifest(path)
    path.write_text(text.splitlines()[0] + "\n")
    with pytest.raises(ManifestError, match="no items"):
        load_manifest(path)


# --------------------------------------------------------------------------- issue 21: hostile input
@pytest.mark.parametrize("field, value", [
    ("speech.onset", float("nan")), ("speech.onset", float("inf")), ("speech.gap", float("nan")),
    ("background.start", float("inf")), ("background.duration", float("nan")),
    ("background.duration", float("inf")), ("event.offset", float("inf")),
])
def test_numbers_that_are_not_finite_are_refused_with_file_and_line(tmp_path, field, value):
    row = item_row("a", ["s.wav", "s.wav"], "b.wav")
    part, key = field.split(".")
    target = row["background"]["events"][0] if part == "event" else row[part]
    target[key] = value
    path = write_set(tmp_path, [item_row("ok", "s.wav", "b.wav"), row])
    assert ("NaN" if value != value else "Infinity") in path.read_text()  # the spellings JSON readers accept
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert f"{path}:3:" in str(info.value) and key in str(info.value)


@pytest.mark.parametrize("snrs, message", [
    ("10", "snrs must be a list"),  # once read character by character: 1 dB and 0 dB
    ([10, float("nan")], "snrs holds nan"),
    ([10, True], "snrs holds True"),
    (["loud"], "unknown SNR 'loud'"),
    ([], "snrs must be a list"),
])
def test_header_snrs_must_be_a_list_of_snrs(tmp_path, snrs, message):
    path = write_set(tmp_path, [item_row("a", "s.wav", "b.wav")], header={"snrs": snrs})
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(path)
    assert f"{path}:1:" in str(info.value)


def test_header_snrs_spell_the_one_source_conditions_as_inf(tmp_path):
    path = write_set(tmp_path, [item_row("a", "s.wav", "b.wav")],
                     header={"snrs": ["inf", 10, "snr_m5", float("-inf"), "10"]})
    assert "-Infinity" in path.read_text()
    assert load_manifest(path).snrs == ("snr_pinf", "snr_p10", "snr_m5", "snr_minf")


def test_a_manifest_that_is_not_utf8_names_its_line(tmp_path):
    path = write_set(tmp_path, [item_row("a", "s.wav", "b.wav"), item_row("b", "s.wav", "b.wav", transcript="cafe")])
    path.write_bytes(path.read_bytes().replace(b"cafe", "caf\u00e9".encode("latin-1")))
    with pytest.raises(ManifestError, match=r":3: not UTF-8 \(byte 0xe9\); save the manifest as UTF-8"):
        load_manifest(path)


def test_a_nul_byte_in_a_path_is_a_manifest_error(tmp_path):
    path = write_set(tmp_path, [item_row("a", "s\u0000.wav", "b.wav")])
    with pytest.raises(ManifestError, match="holds a NUL byte"):
        load_manifest(path)


def test_a_deeply_nested_line_is_a_manifest_error(tmp_path):
    path = write_set(tmp_path, [item_row("a", "s.wav", "b.wav")])
    path.write_text(path.read_text() + '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(ManifestError, match=":3: JSON nested too deeply"):
        load_manifest(path)


def test_u2028_inside_a_string_and_a_byte_order_mark_are_read(tmp_path):
    transcript = "first\u2028second\u2029third\x85fourth\x1cfifth"  # all of them split by str.splitlines
    path = write_set(tmp_path, [item_row("a", "s.wav", "b.wav", transcript=transcript)])
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], json.dumps(item_row("a", "s.wav", "b.wav", transcript=transcript),
                                                    ensure_ascii=False)]) + "\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") and "\u2028".encode() in path.read_bytes()
    manifest = load_manifest(path)
    assert manifest.items[0].speech.transcript == transcript and manifest.lines == {"a": 2}


@pytest.mark.parametrize("folder", ["/", "../../elsewhere", "link"])
def test_roots_outside_the_set_are_refused_unless_allowed(tmp_path, folder):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "a" / "b" / "set").mkdir(parents=True)
    (tmp_path / "a" / "b" / "set" / "link").symlink_to(tmp_path / "elsewhere")
    path = write_set(tmp_path / "a" / "b" / "set", [item_row("x", "up:etc/passwd", "up:b.wav")],
                     header={"roots": {"up": folder}})
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    message = str(info.value)
    assert f"{path}:1: root(s) up = {folder!r}" in message and "outside the set's folder" in message
    assert "--sseu-allow-roots" in message
    allowed = load_manifest(path, allow_roots=True)
    assert allowed.resolved_roots()["up"] == (tmp_path / "a" / "b" / "set" / folder).resolve()


def test_roots_inside_the_set_need_no_opt_in(tmp_path):
    (tmp_path / "corpus").mkdir()
    path = write_set(tmp_path, [item_row("x", "c:s.wav", "c:b.wav")], header={"roots": {"c": "corpus"}})
    assert load_manifest(path).outside_roots() == {}
