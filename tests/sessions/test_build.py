"""`sseu build` on fixture corpora: counts, labels, durations, determinism, bad input, materialize, upper bound."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sseu_harness.cli import main
from sseu_harness.dataset.build import BuildOptions, build, spread
from sseu_harness.dataset.corpora import load_defaults
from sseu_harness.dataset.manifest import load_manifest as load_any_manifest
from sseu_harness.dataset.materialize import materialize
from sseu_harness.dataset.mixer import MIX_RATE, MIXER_VERSION, Mixer
from sseu_harness.errors import AudioError, ConfigError, ManifestError
from sseu_harness.spec.taxonomy import load_taxonomy
from tests.helpers.corpus_fixtures import DESED_CLIPS, make_corpora
from tests.helpers.session_runner import run_pytest, summary

DEFAULTS = load_defaults()
TAXONOMY = load_taxonomy()


def load_manifest(data):
    """Built and imported sets read their audio in place, outside their folder: they need the opt-in."""
    return load_any_manifest(data, allow_roots=True)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return make_corpora(tmp_path_factory.mktemp("corpora"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return make_corpora(tmp_path_factory.mktemp("small"), small=True)


def options(corpora, out, **kw):
    return BuildOptions(corpora.vctk, corpora.desed, corpora.maestro, out, progress=False, **kw)


@pytest.fixture(scope="module")
def built(corpora, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    return build(options(corpora, out)), out


def test_counts_labels_and_the_report_beside_the_paper(corpora, built):
    result, out = built
    manifest = load_manifest(out)
    items = manifest.items
    desed = [i for i in items if i.background.source == "desed"]
    maestro = [i for i in items if i.background.source == "maestro-real"]
    assert len(desed) == len(DESED_CLIPS) - 1  # the speech-only clip is skipped
    assert {i.background.scene for i in desed} == {"home"}
    assert {i.background.scene for i in maestro} == set(TAXONOMY.scene_ids[1:])
    assert {e for i in desed for e in i.background.event_labels} == set(TAXONOMY.event_ids[:9])  # all DESED classes
    assert all(i.background.events for i in items)
    assert not {e.label for i in items for e in i.background.events} & {"speech", "people_talking"}
    for item in maestro:
        bg = item.background
        assert bg.duration == 10.0 and bg.start % 10 == 0 and bg.path.startswith("maestro:development_audio/")
        assert all(0 <= e.onset < e.offset <= 10.0 for e in bg.events)
    assert manifest.header["roots"] == {"vctk": str(corpora.vctk.resolve()), "desed": str(corpora.desed.resolve()),
                                        "maestro": str(corpora.maestro.resolve())}  # in place, absolute
    assert manifest.header["build"]["seed"] == 0 and manifest.header["build"]["harness_version"]

    report = json.loads((out / "build_report.json").read_text())
    figures = {f["figure"]: (f["built"], f["paper"]) for f in report["figures"]}
    assert figures["DESED backgrounds"] == (len(desed), 378)
    assert figures["MAESTRO-Real backgrounds"] == (len(maestro), 739)
    assert figures["mixtures per SNR"] == (len(items), 1117)
    assert figures["speakers"] == (6, 104)
    assert figures["hours of speech"][1] == 2.71 and figures["hours in all (7 SNRs)"][1] == 21.72
    assert figures["hours in all (7 SNRs)"][0] == round(len(items) * 10 * 7 / 3600, 4)
    assert report["backgrounds_per_scene"]["home"] == len(desed)
    assert sum(report["backgrounds_per_scene"].values()) == len(items)
    assert report["clips_per_event"] == {e: sum(e in i.background.event_labels for i in items) for e in TAXONOMY.event_ids}
    assert report["skipped"]["no_event_desed"]["count"] == 1
    assert report["skipped"]["no_event_maestro"]["count"] >= 1
    assert "grocery_store_01 at 10 s: no non-speech event left" in report["skipped"]["no_event_maestro"]["examples"][0]
    assert report["skipped"]["speaker_without_transcripts"]["count"] == 1
    assert "Speech (speech-like)" in report["dropped_source_labels"]["desed"]
    md = (out / "build_report.md").read_text()
    assert "| DESED backgrounds" in md and "378" in md and "21.72" in md


def test_speech_is_joined_per_speaker_fits_and_spreads_evenly(built):
    result, out = built
    manifest = load_manifest(out)
    roots = manifest.roots
    margin, target = DEFAULTS["build"]["margin"], DEFAULTS["build"]["speech_target"]
    lengths, speech_only = [], []  # joined (gaps counted) and speech alone
    for item in manifest.items:
        sp = item.speech
        assert sp.gap == 0.25 and len(sp.parts) == len(set(sp.parts))
        assert all(p.startswith(f"vctk:wav48_silence_trimmed/{sp.speaker}/{sp.speaker}_") and p.endswith("_mic1.flac")
                   for p in sp.parts)
        texts = [(roots["vctk"] / "txt" / sp.speaker / (p.split("/")[-1].replace("_mic1.flac", ".txt"))).read_text().strip()
                 for p in sp.parts]
        assert sp.transcript == " ".join(texts)
        speech = sum(sf.info(str(manifest.resolve(p))).duration for p in sp.parts)
        length = speech + sp.gap * (len(sp.parts) - 1)
        lengths.append(length)
        speech_only.append(speech)
        assert margin <= sp.onset and sp.onset + length <= 10.0 - margin + 1e-6
        assert sp.onset == round(sp.onset, 3)
    assert abs(np.mean(speech_only) - target) < 1.0 and max(lengths) <= 10.0 - 2 * margin
    per_speaker = Counter(i.speech.speaker for i in manifest.items)
    assert len(per_speaker) == 6 and max(per_speaker.values()) - min(per_speaker.values()) <= 1
    speech_hours = next(f["built"] for f in result.report["figures"] if f["figure"] == "hours of speech")
    assert speech_hours == pytest.approx(sum(speech_only) / 3600, abs=1e-4)  # the gaps are not speech
    assert result.report["speech"]["mean_seconds_per_mixture"] == pytest.approx(np.mean(speech_only), abs=1e-3)
    assert result.report["speech"]["seconds_joined"] == pytest.approx(sum(lengths), abs=1e-2)
    mixer = Mixer(manifest)
    for index in range(0, len(manifest.items), 7):
        item = manifest.items[index]
        mixture = mixer.mix(item, 0.0)
        assert mixture.waveform.size == 10 * MIX_RATE
        assert mixture.speech_end - mixture.speech_start == pytest.approx(lengths[index] * MIX_RATE, abs=4 * len(item.speech.parts))


def test_same_seed_same_bytes_other_seed_another_draw(corpora, built, tmp_path):
    _, out = built
    again = build(options(corpora, tmp_path / "again")).manifest
    assert again.read_bytes() == (out / "manifest.jsonl").read_bytes()
    other = build(options(corpora, tmp_path / "other", seed=7)).manifest
    assert other.read_bytes() != again.read_bytes()
    a, b = load_manifest(again).items, load_manifest(other).items
    assert [i.speech.onset for i in a] != [i.speech.onset for i in b]
    assert [i.speech.parts for i in a] != [i.speech.parts for i in b]


def test_counts_are_options_and_sampling_spreads_over_scenes_and_classes(small, tmp_path):
    result = build(options(small, tmp_path, desed_clips=2, maestro_clips=7, speakers=2))
    items = load_manifest(result.manifest).items
    scenes = Counter(i.background.scene for i in items)
    # 7 windows over 5 scenes: 2 + 2 + 1 + 1 + 1, in taxonomy order
    assert scenes == {"home": 2, "cafe_restaurant": 2, "city_center": 2, "grocery_store": 1, "metro_station": 1,
                      "residential_area": 1}
    assert len({i.speech.speaker for i in items}) == 2
    # DESED: one clip per class in turn, rarest first (all four small clips' classes occur once; ties by id)
    labels = [set(i.background.event_labels) for i in items if i.background.source == "desed"]
    assert sorted(map(sorted, labels)) == [["alarm_bell_ringing", "cat"], ["blender"]]
    header = load_manifest(result.manifest).header["build"]
    assert (header["desed_clips"], header["maestro_clips"], header["speakers"]) == (2, 7, 2)


def test_spread_is_even_and_hands_leftovers_on():
    assert spread(7, {"a": 9, "b": 9, "c": 9}, ["a", "b", "c"]) == {"a": 3, "b": 2, "c": 2}
    assert spread(739, {"a": 10, "b": 500, "c": 500}, ["a", "b", "c"]) == {"a": 10, "b": 365, "c": 364}
    assert spread(5, {"a": 1, "b": 0}, ["a", "b"]) == {"a": 1, "b": 0}


def test_speech_target_is_configurable(small, tmp_path):
    short = load_manifest(build(options(small, tmp_path / "s", speech_target=2.0)).manifest).items
    assert all(len(i.speech.parts) == 1 for i in short)


# --------------------------------------------------------------------------- bad input
def test_cli_build_prints_figures_beside_the_paper(small, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["build", "--vctk", str(small.vctk), "--desed", str(small.desed), "--maestro", str(small.maestro),
                 "--out", str(out), "--no-progress", "--seed", "3"])
    assert code == 0
    text = capsys.readouterr().out
    assert "this build" in text and "paper" in text and "378" in text and "21.72" in text
    assert (out / "manifest.jsonl").is_file() and (out / "build_report.md").is_file()


@pytest.mark.parametrize("which", ["vctk", "desed", "maestro"])
def test_a_missing_folder_is_a_one_line_error_and_leaves_no_manifest(small, tmp_path, capsys, which):
    out = tmp_path / "out"
    args = {"vctk": small.vctk, "desed": small.desed, "maestro": small.maestro, which: tmp_path / "missing"}
    code = main(["build", *(x for k, v in args.items() for x in (f"--{k}", str(v))), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"sseu build: error: --{which} {tmp_path / 'missing'}: no such folder")
    assert "Traceback" not in err and not out.exists()


def _copy(small, tmp_path):
    root = tmp_path / "corpora"
    shutil.copytree(small.vctk.parent, root)
    return type(small)(root / small.vctk.name, root / small.desed.name, root / small.maestro.name)


def test_bad_files_are_skipped_and_reported_or_refused_with_strict(small, tmp_path, capsys):
    c = _copy(small, tmp_path)
    clip = sorted((c.desed / "audio" / "validation").glob("*.wav"))[1]
    sf.write(clip, np.zeros(441_000, dtype=np.float32), 44_100)  # silent
    utt = c.vctk / "wav48_silence_trimmed" / "p226" / "p226_002_mic1.flac"
    utt.write_bytes(b"fLaC but broken")  # unreadable
    resampled = sorted((c.desed / "audio" / "validation").glob("*.wav"))[2]
    data, _ = sf.read(resampled)
    sf.write(resampled, np.stack([data[::2], data[::2]], axis=1), 22_050)  # 22.05 kHz stereo: converted, reported
    out = tmp_path / "out"
    report = build(options(c, out, speakers=3)).report
    items = load_manifest(out).items
    assert clip.stem not in {i.id.removeprefix("desed-") for i in items}
    assert resampled.stem in {i.id.removeprefix("desed-") for i in items}
    assert not any(str(utt).endswith(p.split(":", 1)[1]) for i in items for p in i.speech.parts)
    assert str(clip) in report["skipped"]["silent"]["examples"][0]
    assert report["notes"]["rate_converted"]["count"] == 1 and report["notes"]["channels_converted"]["count"] == 1
    # with --strict the first such file stops the build, names the file, and leaves the previous manifest whole
    before = (out / "manifest.jsonl").read_bytes()
    code = main(["build", "--vctk", str(c.vctk), "--desed", str(c.desed), "--maestro", str(c.maestro),
                 "--out", str(out), "--strict", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and ("is silent" in err or "cannot decode" in err) and "--strict refuses it" in err
    assert (out / "manifest.jsonl").read_bytes() == before
    assert not [p for p in out.iterdir() if ".partial" in p.name]


def test_label_outside_the_taxonomy_stops_the_build_before_writing(small, tmp_path):
    c = _copy(small, tmp_path)
    tsv = c.desed / "metadata" / "validation" / "validation.tsv"
    tsv.write_text(tsv.read_text().replace("\tCat\n", "\tCat_purring\n"))
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"validation.tsv:\d+: event label 'Cat_purring' is not in the taxonomy"):
        build(options(c, out))
    assert not (out / "manifest.jsonl").exists()


# --------------------------------------------------------------------------- materialize
def test_materialize_writes_atomically_and_resumes(small, tmp_path):
    out = tmp_path / "set"
    manifest = load_manifest(build(options(small, out, desed_clips=2, maestro_clips=2, speakers=2)).manifest)
    folder = out / "mixtures"
    snrs = [math.inf, 0.0, -math.inf]
    total = len(manifest.items) * len(snrs)

    class Stop(Exception):
        pass

    seen = []

    def stop_after_three(path):
        seen.append(path)
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        materialize(manifest, folder, snrs, progress=False, on_written=stop_after_three)
    files = sorted(folder.glob("snr_*/*.wav"))
    assert len(files) == 3 and not list(folder.glob("snr_*/.*partial*"))
    (folder / "snr_0" / ".half.wav.partial-999").write_bytes(b"half")  # left by a killed run
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    written = []
    result = materialize(manifest, folder, snrs, progress=False, on_written=written.append)
    assert (result.written, result.existing) == (total - 3, 3)
    assert not set(written) & set(files) and all(f.stat().st_mtime_ns == mtimes[f] for f in files)
    assert not list(folder.glob("snr_*/.*partial*"))
    mixer = Mixer(manifest)
    for item in manifest.items:
        for label, db in (("snr_pinf", math.inf), ("snr_0", 0.0), ("snr_minf", -math.inf)):
            data, rate = sf.read(folder / label / f"{item.id}.wav", dtype="float32")
            assert rate == 44_100 and data.ndim == 1 and data.size == 10 * 44_100
            assert np.max(np.abs(data - mixer.mix(item, db).waveform)) < 1.5 / 32768
    rows = (folder / "metadata.csv").read_text().splitlines()
    assert rows[0] == "clip_id,file,snr_db,snr_label,transcript,speaker,scene,events,source" and len(rows) == total + 1
    assert materialize(manifest, folder, snrs, progress=False).written == 0
    other = load_manifest(build(options(small, tmp_path / "other", desed_clips=2, maestro_clips=2, seed=5)).manifest)
    with pytest.raises(ManifestError, match="holds mixtures of another manifest"):
        materialize(other, folder, snrs, progress=False)


def test_materialize_refuses_files_of_another_mixing_rule(tmp_path):
    manifest = load_manifest(Path(__file__).resolve().parents[2] / "sseu_harness" / "data" / "demo")
    folder = tmp_path / "mixtures"
    materialize(manifest, folder, [0.0], progress=False)
    assert (folder / ".manifest-sha256").read_text().split() == [manifest.sha256, MIXER_VERSION]
    (folder / ".manifest-sha256").write_text(manifest.sha256 + "\n")  # a stamp written before sseu-mix-2
    with pytest.raises(ManifestError, match=f"made under mixing rule sseu-mix-1; this harness mixes with {MIXER_VERSION}"):
        materialize(manifest, folder, [0.0], progress=False)


def test_strict_refuses_silent_speech(small, tmp_path):
    c = _copy(small, tmp_path)
    for path in (c.vctk / "wav48_silence_trimmed" / "p225").glob("*_mic1.flac"):
        sf.write(path, np.zeros(48_000, dtype=np.float32), 48_000, format="FLAC")
    with pytest.raises(AudioError, match=r"p225_\d+_mic1.flac: is silent"):
        build(options(c, tmp_path / "out", strict=True))
    report = build(options(c, tmp_path / "out")).report  # without --strict: skipped, other speakers used
    assert report["skipped"]["silent"]["count"] >= 1
    assert "p225" not in {i.speech.speaker for i in load_manifest(tmp_path / "out").items}


# --------------------------------------------------------------------------- the benchmark on the built set
def test_a_built_set_runs_at_the_upper_bound(built, tmp_path):
    _, out = built
    proc = run_pytest("--sseu-model=oracle", f"--sseu-data={out}", "--sseu-allow-roots", "--sseu-modes=independent",
                      "--sseu-snrs=inf,0,-inf", f"--sseu-report-dir={tmp_path / 'r'}",
                      f"--sseu-cache-dir={tmp_path / 'cache'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    records = summary(tmp_path / "r")["records"]
    cases = {(r["task"], r["snr"]) for r in records if r["snr"].startswith("snr_")}
    assert cases == {("ASR", "snr_pinf"), ("ASR", "snr_0"), ("ASC", "snr_0"), ("ASC", "snr_minf"),
                     ("AT", "snr_0"), ("AT", "snr_minf")}
    for rec in records:
        assert rec["value"] == {"WER": 0.0, "mACC": 100.0, "mAP": 100.0}[rec["metric"]], rec
        assert rec["parse_failures"] == 0
    assert {r["n"] for r in records if r["snr"].startswith("snr_")} == {len(load_manifest(out).items)}


# --------------------------------------------------------------------------- speech in backgrounds
def _speech_by_hand(corpora, item) -> set[str]:
    """Speech-like source labels of an item's background, read from the fixture's annotation files directly."""
    speech_like = {"speech", "people talking", "children voices", "announcement"}
    bg = item.background
    if bg.source == "desed":
        name = bg.path.rsplit("/", 1)[-1]
        rows = [line.split("\t") for line in (corpora.desed / "metadata" / "validation" / "validation.tsv")
                .read_text().splitlines()[1:]]
        return {r[3] for r in rows if r[0] == name and r[3].lower() in speech_like}
    scene_file = bg.path.rsplit("/", 1)[-1].replace(".wav", ".txt")
    scene = bg.path.split("/")[-2]
    active: Counter = Counter()
    for line in (corpora.maestro / "development_annotation" / f"soft_labels_{scene}" / scene_file).read_text().splitlines():
        onset, offset, label, confidence = line.split("\t")
        overlap = min(float(offset), bg.start + 10) - max(float(onset), bg.start)
        if label.lower() in speech_like and float(confidence) >= 0.5 and overlap > 0:
            active[label] += overlap
    return {label for label, seconds in active.items() if seconds >= 1.0 - 1e-6}


def test_backgrounds_with_speech_are_kept_marked_and_counted_per_source_and_scene(corpora, built):
    result, out = built
    manifest = load_manifest(out)
    for item in manifest.items:
        assert set(item.background.speech_labels) == _speech_by_hand(corpora, item), item.id
    marked = Counter((i.background.source, i.background.scene) for i in manifest.items if i.background.speech_labels)
    assert marked and sum(marked.values()) < len(manifest.items)  # the fixture has both kinds
    census = result.report["speech_in_backgrounds"]
    assert census["rule"] == "keep" and census["built_with_speech"] == sum(marked.values())
    for key, row in census["per_source_and_scene"].items():
        source, scene = key.split("/")
        assert row["built_with_speech"] == marked[(source, scene)]
        assert row["speech_free_candidates"] == row["candidates"] - row["candidates_with_speech"]
        assert row["short_of_share_without_speech"] == max(0, row["paper_share"] - row["speech_free_candidates"])
    shares = [r["paper_share"] for k, r in census["per_source_and_scene"].items() if k.startswith("maestro-real/")]
    assert shares == [148, 148, 148, 148, 147] and census["per_source_and_scene"]["desed/home"]["paper_share"] == 378
    assert "## Backgrounds whose annotation carries speech" in (out / "build_report.md").read_text()
    row = next(json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()[1:]
               if json.loads(line)["id"] == next(i.id for i in manifest.items if i.background.speech_labels))
    assert row["background"]["speech_labels"]


def test_speech_backgrounds_exclude_leaves_them_out_and_reports_the_cost(corpora, built, tmp_path):
    kept, _ = built
    result = build(options(corpora, tmp_path / "out", speech_backgrounds="exclude"))
    items = load_manifest(result.manifest).items
    assert items and not any(i.background.speech_labels for i in items)
    assert not any(_speech_by_hand(corpora, i) for i in items)
    census = result.report["speech_in_backgrounds"]
    assert census["rule"] == "exclude" and census["built_with_speech"] == 0
    before = kept.report["speech_in_backgrounds"]["per_source_and_scene"]
    for key, row in census["per_source_and_scene"].items():  # the same candidates, counted before leaving any out
        assert (row["candidates"], row["candidates_with_speech"]) == (before[key]["candidates"], before[key]["candidates_with_speech"])
        assert row["built"] <= row["speech_free_candidates"]
    assert result.report["skipped"]["speech_in_background"]["count"] == sum(
        r["candidates_with_speech"] for r in census["per_source_and_scene"].values())
    assert load_manifest(result.manifest).header["build"]["speech_backgrounds"] == "exclude"


def test_a_bad_speech_backgrounds_value_is_refused(corpora, tmp_path, capsys):
    with pytest.raises(ConfigError, match="--speech-backgrounds must be one of keep, exclude, got 'drop'"):
        build(options(corpora, tmp_path / "out", speech_backgrounds="drop"))
    with pytest.raises(SystemExit) as info:
        main(["build", "--vctk", str(corpora.vctk), "--desed", str(corpora.desed), "--maestro", str(corpora.maestro),
              "--out", str(tmp_path / "o"), "--speech-backgrounds", "drop"])
    assert info.value.code == 2 and "invalid choice: 'drop'" in capsys.readouterr().err
