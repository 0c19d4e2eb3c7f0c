"""`sseu import`: pre-mixed sets (CSV / JSONL + column mapping) into the same manifest and the same cases."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf

from sseu_harness.cli import main
from sseu_harness.dataset.build import BuildOptions, build
from sseu_harness.dataset.importer import import_set, parse_map
from sseu_harness.dataset.manifest import load_manifest as load_any_manifest
from sseu_harness.dataset.materialize import materialize
from sseu_harness.dataset.mixer import Mixer
from sseu_harness.errors import ConfigError, ManifestError
from tests.helpers.corpus_fixtures import make_corpora
from tests.helpers.session_runner import run_pytest, summary

MAP = parse_map("audio=file,snr=snr_db,scene=scene,transcript=transcript,events=events,speaker=speaker")


def load_manifest(data):
    """Built and imported sets read their audio in place, outside their folder: they need the opt-in."""
    return load_any_manifest(data, allow_roots=True)


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """A small built set, its mixtures on disk at four SNRs and their metadata.csv."""
    root = tmp_path_factory.mktemp("import")
    c = make_corpora(root / "corpora", small=True)
    manifest = load_manifest(build(BuildOptions(c.vctk, c.desed, c.maestro, root / "built", desed_clips=3,
                                                maestro_clips=6, progress=False)).manifest)
    result = materialize(manifest, root / "released", [math.inf, 10.0, -5.0, -math.inf], progress=False)
    return manifest, result.folder


def write_rows(path, rows, columns=None):
    columns = columns or list(rows[0])
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def tiny_set(tmp_path):
    """Three 1 s mixtures under tmp_path/data."""
    data = tmp_path / "data"
    (data / "mix").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(3):
        sf.write(data / "mix" / f"{k}.wav", 0.1 * rng.standard_normal(16_000).astype(np.float32), 16_000)
    return data


def test_round_trip_of_materialized_mixtures(materialized, tmp_path):
    manifest, folder = materialized
    result = import_set(folder / "metadata.csv", folder, tmp_path / "imported", MAP, clip_id="clip_id")
    assert (result.items, result.rows) == (len(manifest.items), 4 * len(manifest.items))
    assert result.snrs == ["snr_pinf", "snr_p10", "snr_m5", "snr_minf"]
    imported = load_manifest(tmp_path / "imported")
    assert imported.header["roots"] == {"set": str(folder.resolve())}
    by_id = {item.id: item for item in imported.items}
    for item in manifest.items:
        twin = by_id[item.id]
        assert twin.speech.transcript == item.speech.transcript and twin.speech.speaker == item.speech.speaker
        assert twin.background.scene == item.background.scene
        assert twin.background.event_labels == item.background.event_labels
        assert all(e.onset == 0.0 and e.offset == 10.0 for e in twin.background.events)
        assert twin.premixed == {label: f"set:{label}/{item.id}.wav" for label in result.snrs}
    mixer = Mixer(imported)
    wave = mixer.waveform(imported.items[0], 10.0, 44_100)
    assert np.max(np.abs(wave - Mixer(manifest).mix(manifest.items[0], 10.0).waveform)) < 1.5 / 32768


def test_an_imported_set_runs_through_the_same_cases_at_the_upper_bound(materialized, tmp_path):
    _, folder = materialized
    import_set(folder / "metadata.csv", folder, tmp_path / "set", MAP, clip_id="clip_id")
    proc = run_pytest("--sseu-model=oracle", f"--sseu-data={tmp_path / 'set'}", "--sseu-allow-roots",
                      "--sseu-modes=independent",
                      f"--sseu-report-dir={tmp_path / 'r'}", f"--sseu-cache-dir={tmp_path / 'cache'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    records = summary(tmp_path / "r")["records"]
    cases = {(r["task"], r["snr"]) for r in records if r["snr"].startswith("snr_")}
    assert cases == {("ASR", "snr_pinf"), ("ASR", "snr_p10"), ("ASR", "snr_m5"), ("ASC", "snr_p10"), ("ASC", "snr_m5"),
                     ("ASC", "snr_minf"), ("AT", "snr_p10"), ("AT", "snr_m5"), ("AT", "snr_minf")}
    for rec in records:
        assert rec["value"] == {"WER": 0.0, "mACC": 100.0, "mAP": 100.0}[rec["metric"]], rec


def test_snr_spellings_labels_events_and_grouping_without_ids(tiny_set, tmp_path):
    rows = [
        {"path": "mix/0.wav", "snr": "10", "text": "hello there", "place": "Home", "tags": "Dog; cat|Speech"},
        {"path": "mix/1.wav", "snr": "-5dB", "text": "hello there", "place": "home", "tags": "cat,dog"},
        {"path": "mix/2.wav", "snr": "+3 dB", "text": "hello there", "place": "home", "tags": "dog;cat"},
        {"path": "mix/0.wav", "snr": "clean", "text": "good bye", "place": "city centre", "tags": "car passing"},
        {"path": "mix/1.wav", "snr": "snr_m10", "text": "good bye", "place": "city centre", "tags": "car"},
        {"path": "mix/2.wav", "snr": "-Infinity", "text": "good bye", "place": "city centre", "tags": "Car"},
    ]
    source = write_rows(tmp_path / "meta.csv", rows)
    mapping = parse_map("audio=path,snr=snr,transcript=text,scene=place,events=tags")
    result = import_set(source, tiny_set, tmp_path / "out", mapping)
    assert result.items == 2 and result.dropped_labels == {"Speech": 1}
    first, second = load_manifest(tmp_path / "out").items
    assert (first.id, second.id) == ("clip-00001", "clip-00002")
    assert set(first.premixed) == {"snr_p10", "snr_m5", "snr_p3"}  # +3 dB gets a label by the core rule
    assert set(second.premixed) == {"snr_pinf", "snr_m10", "snr_minf"}
    assert first.background.event_labels == ("cat", "dog") and second.background.event_labels == ("car",)
    assert first.background.scene == "home" and second.background.scene == "city_center"


def test_jsonl_with_event_lists_written_into_the_root(tiny_set, tmp_path):
    source = tmp_path / "meta.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "wav": "mix/0.wav", "snr": 0, "scene": "metro station", "events": ["metro leaving", "footsteps"]},
        {"id": "a", "wav": "mix/1.wav", "snr": "-inf", "scene": "metro station", "events": ["footsteps", "metro leaving"]},
    ]) + "\n")
    result = import_set(source, tiny_set, tiny_set, parse_map("audio=wav,snr=snr,scene=scene,events=events,id=id"))
    manifest = load_manifest(tiny_set)
    assert result.manifest == tiny_set / "manifest.jsonl" and manifest.header["roots"] == {"set": "."}
    (item,) = manifest.items
    assert item.id == "a" and item.premixed == {"snr_0": "set:mix/0.wav", "snr_minf": "set:mix/1.wav"}
    assert item.background.event_labels == ("footsteps", "metro_leaving") and item.speech.transcript == ""


@pytest.mark.parametrize(
    "row, error, message",
    [
        ({"path": "../outside.wav"}, ManifestError, r"meta.csv:2: audio path '../outside.wav' leaves the set's root"),
        ({"path": "/etc/hostname"}, ManifestError, r"meta.csv:2: audio path '/etc/hostname' leaves the set's root"),
        ({"path": "mix/9.wav"}, ManifestError, r"meta.csv:2: audio file .*mix/9.wav not found"),
        ({"snr": ""}, ConfigError, r"meta.csv:2: field 'snr' \(column 'snr'\) is missing or empty; fill it in or drop the row"),
        ({"snr": "loud"}, ConfigError, r"meta.csv:2: SNR 'loud': unknown SNR"),
        ({"place": "beach"}, ConfigError, r"meta.csv:2: scene 'beach' is not in the taxonomy; known scenes: home, "),
        ({"tags": "dog; dragon"}, ConfigError, r"meta.csv:2: event 'dragon' is not in the taxonomy; known events: "),
    ],
)
def test_bad_rows_are_refused_with_the_line_and_leave_no_manifest(tiny_set, tmp_path, row, error, message):
    good = {"path": "mix/0.wav", "snr": "0", "text": "hi", "place": "home", "tags": "dog"}
    source = write_rows(tmp_path / "meta.csv", [{**good, **row}, {**good, "path": "mix/1.wav", "snr": "5"}])
    mapping = parse_map("audio=path,snr=snr,transcript=text,scene=place,events=tags")
    with pytest.raises(error, match=message):
        import_set(source, tiny_set, tmp_path / "out", mapping)
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_short_rows_conflicts_and_mapping_errors(tiny_set, tmp_path):
    source = tmp_path / "meta.csv"
    source.write_text("path,snr,place\nmix/0.wav,0,home\nmix/1.wav,5\n")
    with pytest.raises(ConfigError, match=r"meta.csv:3: field 'scene' \(column 'place'\) is missing or empty"):
        import_set(source, tiny_set, tmp_path / "out", parse_map("audio=path,snr=snr,scene=place"))
    with pytest.raises(ConfigError, match=r"--map names columns that are not there \(scene=room\); its columns: path, place, snr"):
        import_set(source, tiny_set, tmp_path / "out", parse_map("audio=path,snr=snr,scene=room"))
    with pytest.raises(ConfigError, match="--map lacks scene"):
        import_set(source, tiny_set, tmp_path / "out", parse_map("audio=path,snr=snr"))
    with pytest.raises(ConfigError, match="--map field 'volume' is unknown"):
        parse_map("audio=path,volume=v")
    source.write_text("id,path,snr,place\na,mix/0.wav,0,home\na,mix/1.wav,0,home\n")
    with pytest.raises(ConfigError, match=r"meta.csv:3: clip 'a' has a second file for snr_0 \(first at line 2\)"):
        import_set(source, tiny_set, tmp_path / "out", parse_map("audio=path,snr=snr,scene=place"), clip_id="id")
    source.write_text("id,path,snr,place\na,mix/0.wav,0,home\na,mix/1.wav,5,city center\n")
    with pytest.raises(ConfigError, match=r"meta.csv:3: clip 'a' has scene 'city_center' here but 'home' at line 2"):
        import_set(source, tiny_set, tmp_path / "out", parse_map("audio=path,snr=snr,scene=place,id=id"))
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_cli_import_and_its_one_line_errors(tiny_set, tmp_path, capsys):
    source = tmp_path / "meta.tsv"
    source.write_text("f\ts\tscene\nmix/0.wav\t10\thome\nmix/1.wav\t-10\thome\n")
    args = ["import", "--csv", str(source), "--root", str(tiny_set), "--out", str(tmp_path / "out"),
            "--map", "audio=f,snr=s,scene=scene"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 items from 2 rows at snr_p10, snr_m10" in out and "pytest --sseu-data=" in out  # one clip: same (empty) text, scene, events
    bad = tmp_path / "bad.csv"
    bad.write_text("f,s,scene\n../../x.wav,10,home\n")
    assert main(["import", "--csv", str(bad), "--root", str(tiny_set), "--out", str(tmp_path / "o2"),
                 "--map", "audio=f,snr=s,scene=scene"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sseu import: error: ") and "leaves the set's root" in err and "Traceback" not in err
    assert not (tmp_path / "o2" / "manifest.jsonl").exists()


def test_a_csv_or_jsonl_that_is_not_utf8_is_a_one_line_error_naming_its_line(tiny_set, tmp_path, capsys):
    source = tmp_path / "meta.csv"
    source.write_bytes("f,s,scene,text\nmix/0.wav,10,home,ok\nmix/1.wav,0,home,caf\u00e9 au lait\n".encode("latin-1"))
    args = ["import", "--root", str(tiny_set), "--out", str(tmp_path / "out"), "--map", "audio=f,snr=s,scene=scene"]
    assert main(["import", "--csv", str(source), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert f"sseu import: error: {source}:3: not UTF-8; save the file as UTF-8" in err and "Traceback" not in err
    jsonl = tmp_path / "meta.jsonl"
    jsonl.write_bytes(b'{"f": "mix/0.wav", "s": 10, "scene": "home"}\n{"f": "mix/1.wav", "s": 0, "scene": "h\xf6me"}\n')
    assert main(["import", "--jsonl", str(jsonl), *args[1:]]) == 2
    assert f"{jsonl}:2: not UTF-8" in capsys.readouterr().err
    jsonl.write_text('{"f": "mix/0.wav", "s": 10, "scene": "home"}\n{"f": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    assert main(["import", "--jsonl", str(jsonl), *args[1:]]) == 2
    assert f"{jsonl}:2: JSON nested too deeply to read" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_jsonl_with_a_byte_order_mark_and_u2028_inside_strings(tiny_set, tmp_path):
    source = tmp_path / "meta.jsonl"
    text = "one\u2028two\u2029three"
    rows = [{"f": f"mix/{k}.wav", "s": snr, "scene": "home", "text": text} for k, snr in enumerate((10, 0))]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8-sig")
    result = import_set(source, tiny_set, tiny_set, parse_map("audio=f,snr=s,scene=scene,transcript=text"))
    assert (result.rows, result.items) == (2, 1)
    assert load_manifest(tiny_set).items[0].speech.transcript == " ".join(text.split())
