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
