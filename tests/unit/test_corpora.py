"""Corpus readers on fixture corpora in the real layouts: what they keep, skip, convert and refuse."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from sseu_harness.dataset.corpora import Findings, load_defaults, probe
from sseu_harness.dataset.corpora.desed import DESED
from sseu_harness.dataset.corpora.maestro import MAESTRO, Segment
from sseu_harness.dataset.corpora.vctk import VCTK
from sseu_harness.dataset.manifest import Event
from sseu_harness.errors import AudioError, ConfigError
from sseu_harness.spec.taxonomy import load_taxonomy
from tests.helpers.corpus_fixtures import DESED_CLIPS, desed_name, make_corpora, write_soft_labels

DEFAULTS = load_defaults()
TAXONOMY = load_taxonomy()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return make_corpora(tmp_path_factory.mktemp("corpora"), small=True)


def vctk(root, findings=None, **kw):
    return VCTK(root, findings or Findings(), DEFAULTS["vctk"], **kw)


def desed(root, findings=None, **kw):
    return DESED(root, TAXONOMY, findings or Findings(), DEFAULTS["desed"], **kw)


def maestro(root, findings=None, **kw):
    return MAESTRO(root, TAXONOMY, findings or Findings(), DEFAULTS["maestro"], **kw)


# --------------------------------------------------------------------------- VCTK
def test_vctk_keeps_speakers_with_transcripts_and_counts_the_rest(corpora):
    findings = Findings()
    reader = vctk(corpora.vctk, findings)
    speakers = reader.speakers()
    assert sorted(speakers) == ["p225", "p226", "p227"]  # p315 has no transcripts
    assert [u.utt_id for u in speakers["p225"]] == [f"p225_{k:03d}" for k in range(1, 6)]  # 006 lacks its transcript
    assert len(speakers["p226"]) == 6
    skipped = findings.as_dict()["skipped"]
    assert skipped["speaker_without_transcripts"]["count"] == 1 and "p315" in skipped["speaker_without_transcripts"]["examples"][0]
    assert skipped["utterance_without_transcript"]["count"] == 1
    assert skipped["utterance_without_mic"]["count"] == 1  # p225_007.txt has no audio
    utt = speakers["p226"][0]
    assert utt.relative == "wav48_silence_trimmed/p226/p226_001_mic1.flac"
    info = reader.check(utt)
    assert info.rate == 48_000 and info.channels == 1 and 1.5 < info.duration < 3.5
    assert reader.transcript(utt).endswith(".") and "\n" not in reader.transcript(utt)


def test_vctk_mic2_is_an_option(corpora):
    speakers = vctk(corpora.vctk, mic="mic2").speakers()
    assert speakers["p227"][0].relative.endswith("p227_001_mic2.flac")


def test_vctk_layout_errors_name_the_folder_and_the_fix(corpora, tmp_path):
    with pytest.raises(ConfigError, match=f"--vctk {tmp_path / 'nowhere'}: no such folder"):
        vctk(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"no wav48_silence_trimmed/ folder \(found one under .*VCTK-Corpus-0.92: pass --vctk"):
        vctk(corpora.vctk.parent)
    old = tmp_path / "VCTK-Corpus"
    (old / "wav48" / "p225").mkdir(parents=True)
    (old / "txt").mkdir()
    with pytest.raises(ConfigError, match="looks like VCTK 0.80"):
        vctk(old)
    empty = tmp_path / "empty"
    (empty / "wav48_silence_trimmed" / "p225").mkdir(parents=True)
    (empty / "txt").mkdir()
    with pytest.raises(ConfigError, match="no <speaker>/<speaker>_<utt>_mic1.flac files"):
        vctk(empty).speakers()


# --------------------------------------------------------------------------- DESED
def test_desed_reads_the_real_strong_labels_and_maps_them(corpora):
    findings = Findings()
    reader = desed(corpora.desed, findings)
    assert [t.name for t in reader.tsvs] == ["soundscapes.tsv", "validation.tsv"]  # the weak TSV has another header
    clips = reader.clips()
    assert [t.name for t in reader.used_tsvs] == ["validation.tsv"]  # synthetic rows are not real clips
    assert [c.filename for c in clips] == [desed_name(k) for k in range(4)]
    first = clips[0]
    assert first.relative == f"audio/validation/{desed_name(0)}"
    assert first.events == (Event("dog", 0.5, 2.0), Event("dishes", 6.5, 8.0))  # Speech dropped
    assert {e.label for c in clips for e in c.events} == {"dog", "dishes", "alarm_bell_ringing", "cat", "blender",
                                                           "vacuum_cleaner"}
    assert reader.dropped == {"Speech (speech-like)": 2}
    assert findings.as_dict()["notes"]["non_real_rows"]["count"] == 2
    info, events = reader.check(first)
    assert info.rate == 44_100 and info.duration == 10.0 and events == first.events


def test_desed_without_a_strong_tsv_or_with_missing_audio(corpora, tmp_path):
    with pytest.raises(ConfigError, match="no strong-label TSV .* pass the DESED folder that holds metadata/ and audio/"):
        desed(corpora.desed / "audio")
    root = tmp_path / "DESED"
    shutil.copytree(corpora.desed / "metadata", root / "metadata")
    with pytest.raises(ConfigError, match="none of the 4 clips in the TSVs has its audio"):
        desed(root).clips()
    (root / "audio").mkdir()
    shutil.copy(corpora.desed / "audio" / "validation" / desed_name(1), root / "audio" / desed_name(1))
    findings = Findings()
    clips = desed(root, findings).clips()
    assert [c.filename for c in clips] == [desed_name(1)]
    missing = findings.as_dict()["skipped"]["missing_audio"]
    assert missing["count"] == 3 and desed_name(0) in missing["examples"][0] and "download" in missing["examples"][0]


@pytest.mark.parametrize(
    "row, message",
    [
        ("{name}\t1.0\t2.0\tToaster", r"validation.tsv:2: event label 'Toaster' is not in the taxonomy; add it to a "
                                      r"class's aliases in sseu_harness/data/taxonomy.toml"),
        ("{name}\tsoon\t2.0\tDog", r"validation.tsv:2: onset 'soon' / offset '2.0' are not numbers"),
        ("{name}\t3.0\t2.0\tDog", r"validation.tsv:2: Dog has onset 3.0 / offset 2.0"),
        ("{name}\t1.0\t2.0\t", r"validation.tsv:2: .* has times but no event_label"),
    ],
)
def test_desed_bad_rows_name_the_file_and_line(corpora, tmp_path, row, message):
    root = tmp_path / "DESED"
    shutil.copytree(corpora.desed, root)
    tsv = root / "metadata" / "validation" / "validation.tsv"
    lines = tsv.read_text().splitlines()
    tsv.write_text("\n".join([lines[0], row.format(name=desed_name(0)), *lines[1:]]) + "\n")
    with pytest.raises(ConfigError, match=message):
        desed(root).clips()


def test_desed_annotation_past_the_audio(corpora, tmp_path):
    root = tmp_path / "DESED"
    shutil.copytree(corpora.desed, root)
    tsv = root / "metadata" / "validation" / "validation.tsv"
    tsv.write_text(tsv.read_text().replace(f"{desed_name(1)}\t5.000\t6.500\tCat", f"{desed_name(1)}\t5.000\t12.000\tCat")
                   .replace(f"{desed_name(3)}\t0.000\t10.000\t", f"{desed_name(3)}\t0.000\t10.300\t"))
    findings = Findings()
    reader = desed(root, findings)
    clips = {c.filename: c for c in reader.clips()}
    assert reader.check(clips[desed_name(1)]) == (None, ())
    skipped = findings.as_dict()["skipped"]["annotation_past_audio"]
    assert "cat at 5.0-12.0 s" in skipped["examples"][0] and "lasts 10.00 s" in skipped["examples"][0]
    info, events = reader.check(clips[desed_name(3)])  # 0.3 s over: cut at the clip's end, noted
    assert info is not None and events == (Event("vacuum_cleaner", 0.0, 10.0),)
    assert findings.as_dict()["notes"]["event_cut_at_clip_end"]["count"] == 1
    with pytest.raises(AudioError, match="--strict refuses it"):
        DESED(root, TAXONOMY, Findings(strict=True), DEFAULTS["desed"]).check(clips[desed_name(1)])


# --------------------------------------------------------------------------- MAESTRO-Real
def test_maestro_pairs_by_stem_and_cuts_non_overlapping_windows(corpora):
    findings = Findings()
    reader = maestro(corpora.maestro, findings)
    recordings = reader.recordings()
    assert [(r.scene, r.stem) for r in recordings] == [(s, f"{s}_01") for s in TAXONOMY.scene_ids[1:]]
    rec = recordings[1]  # city_center_01, 21 s: windows at 0 and 10 s
    assert rec.relative == "development_audio/city_center/city_center_01.wav"
    windows = reader.windows(rec)
    assert [w.start for w in windows] == [0.0, 10.0][: len(windows)] and windows
    for w in windows:
        assert w.duration == 10.0 and w.events and all(0 <= e.onset < e.offset <= 10.0 for e in w.events)
        assert all(e.onset == int(e.onset) and e.offset == int(e.offset) for e in w.events)  # on the 1 s grid
    labels = {e.label for r in recordings for w in reader.windows(r) for e in w.events}
    assert labels <= set(TAXONOMY.event_ids)
    assert {"people talking (speech-like)", "coffee machine (not among the 18 classes)"} <= set(reader.dropped)


def test_window_labels_threshold_merge_clip_and_minimum_span(corpora):
    reader = maestro(corpora.maestro, min_event_span=2.0)
    segments = (
        Segment(8.0, 9.0, "car", 0.9),       # before the window [10, 20)
        Segment(9.0, 10.0, "car", 0.9),
        Segment(10.0, 11.0, "car", 0.6),      # car active 10-12 s: 2 s, kept
        Segment(11.0, 12.0, "car", 0.5),      # exactly at the threshold counts
        Segment(12.0, 13.0, "car", 0.49),     # just below does not
        Segment(14.0, 15.0, "footsteps", 0.8),  # 1 s only: under the 2 s minimum
        Segment(15.0, 16.0, "birds_singing", 1.0),
        Segment(17.0, 18.0, "birds_singing", 1.0),  # two runs, 2 s in all: kept as two events
        Segment(19.0, 21.0, "wind_blowing", 0.7),   # crosses the end: clipped to 1 s, dropped
    )
    events = reader.window_events(segments, 10.0)
    assert events == (Event("car", 0.0, 2.0), Event("birds_singing", 5.0, 6.0), Event("birds_singing", 7.0, 8.0))
    assert maestro(corpora.maestro).window_events(segments, 10.0)[-1] == Event("wind_blowing", 9.0, 10.0)


def test_maestro_with_a_shorter_hop_overlaps_windows(corpora):
    reader = maestro(corpora.maestro, hop=5.0)
    rec = reader.recordings()[0]
    starts = [w.start for w in reader.windows(rec)]
    assert set(starts) <= {0.0, 5.0, 10.0} and len(starts) >= 2


def test_maestro_refuses_a_mismatched_pair_and_reports_it(corpora, tmp_path):
    root = tmp_path / "MAESTRO-Real"
    shutil.copytree(corpora.maestro, root)
    ann = root / "development_annotation" / "soft_labels_metro_station" / "metro_station_01.txt"
    write_soft_labels(ann, [(s, s + 1, "footsteps", 0.9) for s in range(0, 60)])  # 60 s of labels, 21 s of audio
    findings = Findings()
    reader = maestro(root, findings)
    rec = next(r for r in reader.recordings() if r.stem == "metro_station_01")
    assert reader.windows(rec) == []
    message = findings.as_dict()["skipped"]["annotation_past_audio"]["examples"][0]
    assert "runs to 60 s but its audio" in message and "paired wrongly" in message and "metro_station_01.wav" in message


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: shutil.rmtree(r / "development_annotation"),
         r"no development_annotation/ folder; pass the folder that holds"),
        (lambda r: (r / "development_audio" / "beach").mkdir(), r"scene folder 'beach' is not a taxonomy scene"),
        (lambda r: shutil.rmtree(r / "development_annotation" / "soft_labels_city_center"),
         r"soft_labels_city_center: missing; MAESTRO-Real pairs"),
        (lambda r: (r / "development_annotation" / "soft_labels_city_center" / "city_center_01.txt")
         .write_text("0.0\t1.0\tdragon roaring\t0.9\n"), r"city_center_01.txt:1: event label 'dragon roaring' is not in the taxonomy"),
        (lambda r: (r / "development_annotation" / "soft_labels_city_center" / "city_center_01.txt")
         .write_text("0.0 1.0 car 0.9\n"), r"city_center_01.txt:1: expected 4 tab-separated fields"),
        (lambda r: (r / "development_annotation" / "soft_labels_city_center" / "city_center_01.txt")
         .write_text("0.0\t1.0\tcar\t1.7\n"), r"city_center_01.txt:1: confidence 1.7 is outside \[0, 1\]"),
    ],
)
def test_maestro_bad_layout_and_labels_are_refused(corpora, tmp_path, mutate, message):
    root = tmp_path / "MAESTRO-Real"
    shutil.copytree(corpora.maestro, root)
    mutate(root)
    with pytest.raises(ConfigError, match=message):
        maestro(root).recordings()


def test_maestro_parent_folder_gets_a_hint(corpora):
    with pytest.raises(ConfigError, match=r"found one under .*MAESTRO-Real: pass --maestro"):
        maestro(corpora.maestro.parent)


def test_maestro_missing_halves_are_skipped_and_counted(corpora, tmp_path):
    root = tmp_path / "MAESTRO-Real"
    shutil.copytree(corpora.maestro, root)
    (root / "development_audio" / "grocery_store" / "grocery_store_01.wav").unlink()
    (root / "development_annotation" / "soft_labels_cafe_restaurant" / "cafe_restaurant_01.txt").unlink()
    findings = Findings()
    stems = [r.stem for r in maestro(root, findings).recordings()]
    assert stems == ["city_center_01", "metro_station_01", "residential_area_01"]
    skipped = findings.as_dict()["skipped"]
    assert skipped["missing_audio"]["count"] == 1 and skipped["missing_annotation"]["count"] == 1


# --------------------------------------------------------------------------- probing audio files
def test_probe_skips_broken_files_and_reports_conversions(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "stereo_22k.wav", 0.1 * rng.standard_normal((22_050, 2)), 22_050)
    sf.write(tmp_path / "silent.wav", np.zeros(44_100), 44_100)
    sf.write(tmp_path / "empty.wav", np.zeros(0), 44_100)
    sf.write(tmp_path / "phone.wav", 0.1 * rng.standard_normal(8_000), 8_000)
    (tmp_path / "garbage.wav").write_bytes(b"RIFF....not audio at all")
    findings = Findings()
    args = ("DESED", [44_100], [1], 16_000, 1e-4)
    info, _ = probe(tmp_path / "stereo_22k.wav", findings, *args)
    assert info.rate == 22_050 and info.channels == 2
    for name in ("silent.wav", "empty.wav", "phone.wav", "garbage.wav"):
        assert probe(tmp_path / name, findings, *args) == (None, None), name
    report = findings.as_dict()
    assert set(report["skipped"]) == {"silent", "empty", "low_rate", "unreadable"}
    assert "garbage.wav: cannot decode it" in report["skipped"]["unreadable"]["examples"][0]
    assert "re-download" in report["skipped"]["silent"]["examples"][0]
    assert "22050 Hz where DESED has 44100 Hz; resampled to 44.1 kHz" in report["notes"]["rate_converted"]["examples"][0]
    assert "2 channels where DESED has 1; averaged to mono" in report["notes"]["channels_converted"]["examples"][0]
    with pytest.raises(AudioError, match="silent.wav: is silent"):
        probe(tmp_path / "silent.wav", Findings(strict=True), *args)


def test_fixture_layouts_match_the_documented_ones(corpora):
    assert (corpora.vctk / "wav48_silence_trimmed" / "p225" / "p225_001_mic2.flac").is_file()
    assert (corpora.vctk / "txt" / "p225" / "p225_001.txt").is_file()
    assert not (corpora.vctk / "txt" / "p315").exists()
    assert sf.info(str(corpora.vctk / "wav48_silence_trimmed" / "p226" / "p226_002_mic1.flac")).samplerate == 48_000
    header = (corpora.desed / "metadata" / "validation" / "validation.tsv").read_text().splitlines()[0]
    assert header == "filename\tonset\toffset\tevent_label"
    ann = corpora.maestro / "development_annotation" / "soft_labels_city_center" / "city_center_01.txt"
    onset, offset, label, confidence = ann.read_text().splitlines()[0].split("\t")
    assert float(offset) - float(onset) == 1.0 and 0 <= float(confidence) <= 1 and label
    audio = corpora.maestro / "development_audio" / "city_center" / "city_center_01.wav"
    assert sf.info(str(audio)).samplerate == 44_100
    assert len(DESED_CLIPS) == 12
