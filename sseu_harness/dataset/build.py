"""Build SSEU-Bench from local copies of VCTK 0.92, DESED (real) and MAESTRO-Real.

`build(options)` reads the three corpora in place, samples backgrounds and
speech reproducibly from one seed, and writes ``OUT/manifest.jsonl`` (schema
``sseu-manifest/1``; the header's ``roots`` point at the corpora, so no audio
is copied) plus ``OUT/build_report.json`` and ``.md``: our figures beside the
paper's. The manifest is written atomically, and only after every item has
been checked and the whole file loads back; an error leaves no manifest (and
keeps a previous one whole).

Sampling (all draws from ``numpy.random.default_rng([seed, stream, ...])``):

* DESED: clips with audio and at least one non-speech event; a seeded shuffle,
  then round-robin over the DESED classes, rarest class first: each turn takes
  the next unused clip carrying that class, so every class appears and rare
  classes are not crowded out; up to ``desed_clips``.
* MAESTRO-Real: candidate windows as described in `corpora/maestro.py`;
  ``maestro_clips`` spread evenly over the five scenes, each scene's share
  spread evenly over its recordings (a share a scene or recording cannot fill
  goes to the others), windows of a recording drawn at random.
* Speakers: ``speakers`` of the VCTK speakers with transcripts, drawn at
  random; mixtures are dealt to them in a seeded random order, round-robin,
  so every speaker has the same number of mixtures (+-1) and scenes are mixed
  across speakers.
* Speech: each speaker's utterances in a seeded random order, none reused
  before all are used. An item's speech starts with the next utterance that
  fits, then adds the next one that brings the joined length closer to
  ``speech_target`` without passing the cap (background - 2 x margin); the
  utterances are joined with ``gap`` seconds of silence; the transcript is
  theirs joined with a space.
* Onset: uniform (whole milliseconds) in [margin, background - margin -
  speech], so the speech lies inside the background.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate
from tqdm import tqdm

from sseu_harness import __version__
from sseu_harness.dataset.corpora import DEFAULTS_PATH, Findings, load_defaults
from sseu_harness.dataset.corpora.desed import DESED, Clip
from sseu_harness.dataset.corpora.maestro import MAESTRO, Window
from sseu_harness.dataset.corpora.vctk import VCTK, Utterance
from sseu_harness.dataset.manifest import (
    MANIFEST_NAME,
    Background,
    Event,
    Item,
    Speech,
    iter_manifest_lines,
    load_manifest,
)
from sseu_harness.errors import ConfigError, SSEUError
from sseu_harness.files import atomic
from sseu_harness.spec.taxonomy import Taxonomy, load_taxonomy

REPORT_SCHEMA = "sseu-build-report/1"
REPORT_NAME = "build_report"
SPEECH_BACKGROUNDS = ("keep", "exclude")  # what to do with backgrounds whose annotation carries speech

# Random streams: one per decision, so changing one count leaves the other draws alone.
_DESED, _MAESTRO, _SPEAKERS, _DEAL, _POOL, _ONSET = range(1, 7)


@dataclass
class BuildOptions:
    vctk: Path
    desed: Path
    maestro: Path
    out: Path
    seed: int | None = None
    desed_clips: int | None = None
    maestro_clips: int | None = None
    speakers: int | None = None
    speech_target: float | None = None
    gap: float | None = None
    margin: float | None = None
    mic: str | None = None
    hop: float | None = None
    threshold: float | None = None
    min_event_span: float | None = None
    speech_backgrounds: str | None = None  # "keep" or "exclude" backgrounds whose annotation carries speech
    desed_tsvs: list[Path] = field(default_factory=list)
    strict: bool = False
    name: str = "sseu-bench"
    progress: bool | None = None  # None: tqdm decides (on for a terminal)


@dataclass
class BuildResult:
    manifest: Path
    report: dict
    items: list[Item]


@dataclass
class _Background:
    item_id: str
    path: str  # root-prefixed
    source: str
    scene: str
    events: tuple[Event, ...]
    duration: float
    start: float = 0.0
    window: float | None = None  # background.duration in the manifest (MAESTRO windows)
    speech: tuple[str, ...] = ()  # speech-like source labels of its annotation


def build(options: BuildOptions) -> BuildResult:
    defaults = load_defaults()
    p = _parameters(options, defaults)
    taxonomy = load_taxonomy()
    findings = Findings(strict=options.strict)
    out = Path(options.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder; pass a folder for the built set")

    common = {"min_rate": p["min_rate"], "silence_peak": p["silence_peak"]}
    vctk = VCTK(options.vctk, findings, defaults["vctk"], mic=p["mic"], **common)
    desed = DESED(options.desed, taxonomy, findings, defaults["desed"], tsvs=options.desed_tsvs, **common)
    maestro = MAESTRO(options.maestro, taxonomy, findings, defaults["maestro"], hop=options.hop,
                      threshold=options.threshold, min_event_span=options.min_event_span, **common)
    bar = _bar_factory(options.progress)

    census: dict[tuple[str, str], Counter] = {}  # (source, scene) -> candidates and those with speech
    backgrounds = (_desed_backgrounds(desed, p, findings, bar, census)
                   + _maestro_backgrounds(maestro, taxonomy, p, findings, bar, census))
    if not backgrounds:
        raise ConfigError(f"the build found no usable background{_skips(findings)}; check --desed and --maestro")
    items, speech_stats = _add_speech(backgrounds, vctk, p, findings, bar)
    if not items:
        raise ConfigError(f"no VCTK speech fits the backgrounds{_skips(findings)}; check --vctk and --speech-target")

    header = {
        "name": options.name,
        "description": "SSEU-Bench built from VCTK 0.92, DESED (real) and MAESTRO-Real by `sseu build`; "
                       "the corpora are referenced in place through `roots`.",
        "roots": {"vctk": str(vctk.root), "desed": str(desed.root), "maestro": str(maestro.root)},
        "build": {**{k: p[k] for k in ("seed", "desed_clips", "maestro_clips", "speakers", "speech_target",
                                         "gap", "margin", "mic", "silence_peak", "min_rate", "speech_backgrounds")},
                  "maestro": maestro.parameters, "desed_tsvs": [str(t) for t in desed.used_tsvs],
                  "defaults": defaults.get("version"),
                  "defaults_sha256": hashlib.sha256(DEFAULTS_PATH.read_bytes()).hexdigest(),
                  "taxonomy": taxonomy.version,
                  "harness_version": __version__},
        "generator": "sseu build",
    }
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST_NAME
    write_atomic(manifest_path, "".join(line + "\n" for line in iter_manifest_lines(header, items)),
                 validate=lambda tmp: load_manifest(tmp, taxonomy, allow_roots=True))
    report = _report(items, backgrounds, speech_stats, findings, defaults["paper"], taxonomy, p,
                     {"desed": desed.dropped, "maestro": maestro.dropped}, manifest_path, census)
    write_report(out, report)
    return BuildResult(manifest_path, report, items)


def _skips(findings: Findings) -> str:
    skipped = findings.as_dict()["skipped"]
    if not skipped:
        return ""
    kinds = ", ".join(f"{kind} x{entry['count']}" for kind, entry in skipped.items())
    first = next((entry["examples"][0] for entry in skipped.values() if entry["examples"]), "")
    return f" (skipped: {kinds}; e.g. {first})"


# --------------------------------------------------------------------------- parameters
def _parameters(options: BuildOptions, defaults: dict) -> dict:
    b = defaults["build"]
    pick = lambda value, key: b[key] if value is None else value  # noqa: E731
    p = {
        "seed": int(pick(options.seed, "seed")),
        "desed_clips": int(pick(options.desed_clips, "desed_clips")),
        "maestro_clips": int(pick(options.maestro_clips, "maestro_clips")),
        "speakers": int(pick(options.speakers, "speakers")),
        "speech_target": float(pick(options.speech_target, "speech_target")),
        "gap": float(pick(options.gap, "gap")),
        "margin": float(pick(options.margin, "margin")),
        "mic": options.mic or defaults["vctk"].get("mic", "mic1"),
        "silence_peak": float(b["silence_peak"]),
        "min_rate": int(b["min_rate"]),
        "snr_conditions": int(defaults["paper"]["snr_conditions"]),
        "speech_backgrounds": str(options.speech_backgrounds or b["speech_backgrounds"]),
    }
    if p["speech_backgrounds"] not in SPEECH_BACKGROUNDS:
        raise ConfigError(f"--speech-backgrounds must be one of {', '.join(SPEECH_BACKGROUNDS)}, "
                          f"got {p['speech_backgrounds']!r}")
    for key in ("desed_clips", "maestro_clips"):
        if p[key] < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be 0 or more, got {p[key]}")
    if p["speakers"] < 1:
        raise ConfigError(f"--speakers must be at least 1, got {p['speakers']}")
    if p["speech_target"] <= 0 or p["gap"] < 0 or p["margin"] < 0:
        raise ConfigError("--speech-target must be positive, --gap and --margin 0 or more")
    return p


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _key(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _bar_factory(progress: bool | None):
    def bar(iterable, desc: str, total: int | None = None):
        return tqdm(iterable, desc=desc, total=total, file=sys.stderr, unit="",
                    disable=None if progress is None else not progress, leave=False)
    return bar


# --------------------------------------------------------------------------- backgrounds
def _desed_backgrounds(desed: DESED, p: dict, findings: Findings, bar, census: dict) -> list[_Background]:
    if p["desed_clips"] == 0:
        return []
    clips = desed.clips()
    usable = [c for c in clips if c.events]
    empty = [c for c in clips if not c.events]
    if empty:
        findings.skip("no_event_desed", f"{empty[0].tsv}: {empty[0].filename} has no non-speech event; "
                      "skipped (like every such clip)", count=len(empty))
    census[("desed", "home")] = Counter(candidates=len(usable), with_speech=sum(bool(c.speech) for c in usable))
    usable = _without_speech(usable, p, findings, lambda c: f"{c.tsv}: {c.filename}")
    chosen = select_stratified(usable, p["desed_clips"], _rng(p["seed"], _DESED), desed.check, bar)
    out = []
    for clip, info, events in sorted(chosen, key=lambda c: c[0].filename):
        out.append(_Background(f"desed-{Path(clip.filename).stem}", f"desed:{clip.relative}", "desed", "home",
                               events, info.duration, speech=clip.speech))
    return out


def select_stratified(clips: list[Clip], n: int, rng: np.random.Generator, check, bar) -> list[tuple]:
    """Round-robin over classes (rarest first) through a seeded shuffle of the clips; see the module doc."""
    order = [clips[i] for i in rng.permutation(len(clips))]
    counts = Counter(label for clip in clips for label in {e.label for e in clip.events})
    classes = sorted(counts, key=lambda c: (counts[c], c))
    queues = {c: deque(i for i, clip in enumerate(order) if c in {e.label for e in clip.events}) for c in classes}
    used: set[int] = set()
    chosen: list[tuple] = []
    progress = bar(None, "DESED clips", total=min(n, len(order)))
    while len(chosen) < n and any(queues.values()):
        for cls in classes:
            if len(chosen) >= n:
                break
            queue = queues[cls]
            while queue:
                index = queue.popleft()
                if index in used:
                    continue
                used.add(index)
                info, events = check(order[index])
                if info is not None:
                    chosen.append((order[index], info, events))
                    progress.update(1)
                    break
    progress.close()
    return chosen


def _maestro_backgrounds(maestro: MAESTRO, taxonomy: Taxonomy, p: dict, findings: Findings, bar,
                         census: dict) -> list[_Background]:
    if p["maestro_clips"] == 0:
        return []
    recordings = maestro.recordings()
    windows = {rec.stem: maestro.windows(rec) for rec in bar(recordings, "MAESTRO recordings")}
    for rec in recordings:
        counts = census.setdefault(("maestro-real", rec.scene), Counter(candidates=0, with_speech=0))
        counts["candidates"] += len(windows[rec.stem])
        counts["with_speech"] += sum(bool(w.speech) for w in windows[rec.stem])
    windows = {stem: _without_speech(ws, p, findings, lambda w: f"{w.recording.stem} at {w.start:g} s")
               for stem, ws in windows.items()}
    chosen = select_windows(recordings, windows, p["maestro_clips"], _rng(p["seed"], _MAESTRO), taxonomy.scene_ids)
    return [_Background(f"maestro-{w.id}", f"maestro:{w.recording.relative}", "maestro-real", w.recording.scene,
                        w.events, w.duration, start=w.start, window=w.duration, speech=w.speech) for w in chosen]


def _without_speech(candidates: list, p: dict, findings: Findings, name) -> list:
    """The candidates a build may draw from: all, or (``exclude``) those whose annotation carries no speech."""
    if p["speech_backgrounds"] == "keep":
        return candidates
    kept = [c for c in candidates if not c.speech]
    dropped = [c for c in candidates if c.speech]
    if dropped:
        findings.skip("speech_in_background", f"{name(dropped[0])}: annotated with {', '.join(dropped[0].speech)}; "
                      "left out (--speech-backgrounds exclude)", count=len(dropped))
    return kept


def spread(total: int, capacity: dict[str, int], order: list[str]) -> dict[str, int]:
    """Split `total` as evenly as possible over `order`, never past a capacity; leftovers go to the others."""
    quota = {k: 0 for k in order}
    remaining = total
    open_ = [k for k in order if capacity.get(k, 0) > 0]
    while remaining > 0 and open_:
        share, extra = divmod(remaining, len(open_))
        for i, k in enumerate(open_):
            give = min(share + (1 if i < extra else 0), capacity[k] - quota[k])
            quota[k] += give
            remaining -= give
        open_ = [k for k in open_ if quota[k] < capacity[k]]
    return quota


def select_windows(recordings, windows: dict[str, list[Window]], n: int, rng: np.random.Generator,
                   scene_order: list[str]) -> list[Window]:
    by_scene: dict[str, list] = {}
    for rec in recordings:
        by_scene.setdefault(rec.scene, []).append(rec)
    scenes = [s for s in scene_order if s in by_scene]
    per_scene = spread(n, {s: sum(len(windows[r.stem]) for r in by_scene[s]) for s in scenes}, scenes)
    chosen: list[Window] = []
    for scene in scenes:
        recs = [by_scene[scene][i] for i in rng.permutation(len(by_scene[scene]))]
        per_rec = spread(per_scene[scene], {r.stem: len(windows[r.stem]) for r in recs}, [r.stem for r in recs])
        for rec in sorted(recs, key=lambda r: r.stem):
            candidates = windows[rec.stem]
            picks = rng.permutation(len(candidates))[: per_rec[rec.stem]]
            chosen.extend(sorted((candidates[i] for i in picks), key=lambda w: w.start))
    return chosen


# --------------------------------------------------------------------------- speech
class _Pool:
    """A speaker's utterances in seeded random order; none reused before all are used."""

    def __init__(self, speaker: str, utterances: list[Utterance], vctk: VCTK, seed: int, findings: Findings):
        self.speaker, self.all, self.vctk, self.findings = speaker, list(utterances), vctk, findings
        self.rng = _rng(seed, _POOL, _key(speaker))
        self.queue: list[Utterance] = []
        self.cycles = 0
        self._refill()

    def _refill(self) -> None:
        self.queue = [self.all[i] for i in self.rng.permutation(len(self.all))]
        self.cycles += 1
        if self.cycles > 1:
            self.findings.note("utterances_reused", f"speaker {self.speaker}: all {len(self.all)} utterances used; "
                               "starting over in a new order")

    def take(self, limit: float, exclude: set[str]) -> tuple[Utterance, float] | None:
        """The next usable utterance of at most `limit` seconds (not in `exclude`), or None.

        Unusable utterances (unreadable, silent, no transcript) leave the pool for good. A new cycle
        (reuse) starts only when every utterance of the current one has been used.
        """
        for _ in range(2):
            index = 0
            while index < len(self.queue):
                utt = self.queue[index]
                if utt.utt_id in exclude:
                    index += 1
                    continue
                info = self.vctk.info(utt)  # header only; decoded below when it fits
                if info is not None and info.duration <= limit:
                    info = self.vctk.check(utt)
                    if info is not None:
                        del self.queue[index]
                        return utt, info.duration
                if info is None:
                    del self.queue[index]
                    self.all = [u for u in self.all if u.utt_id != utt.utt_id]
                    continue
                index += 1
            if any(u.utt_id not in exclude for u in self.queue) or not self.all:
                return None
            self._refill()
        return None


def _add_speech(backgrounds: list[_Background], vctk: VCTK, p: dict, findings: Findings, bar):
    speakers = vctk.speakers()
    eligible = sorted(speakers)
    if len(eligible) > p["speakers"]:
        picks = _rng(p["seed"], _SPEAKERS).choice(len(eligible), size=p["speakers"], replace=False)
        chosen = sorted(eligible[i] for i in picks)
    else:
        chosen = eligible
    pools = {s: _Pool(s, speakers[s], vctk, p["seed"], findings) for s in chosen}
    deal = _rng(p["seed"], _DEAL).permutation(len(backgrounds))
    speaker_of = {int(item_index): chosen[j % len(chosen)] for j, item_index in enumerate(deal)}

    items: list[Item] = []
    utterance_seconds = 0.0
    gap, margin, target = p["gap"], p["margin"], p["speech_target"]
    for index, bg in enumerate(bar(backgrounds, "speech")):
        cap = bg.duration - 2 * margin
        if cap <= 0:
            findings.skip("background_too_short", f"{bg.path}: {bg.duration:.2f} s leaves no room for speech inside "
                          f"the {margin} s margins; skipped")
            continue
        first = chosen.index(speaker_of[index])
        picked = None
        for k in range(len(chosen)):  # the dealt speaker, or the next one when nothing of theirs fits
            speaker = chosen[(first + k) % len(chosen)]
            picked = _join(pools[speaker], min(target, cap), cap, gap)
            if picked:
                if k:
                    findings.note("speaker_fallback", f"{bg.item_id}: no utterance of {speaker_of[index]} fits; "
                                  f"used {speaker}")
                break
        if not picked:
            findings.skip("no_speech", f"{bg.item_id}: no VCTK utterance fits its {bg.duration:.2f} s background; skipped")
            continue
        parts, durations = picked
        speech_seconds = sum(durations) + gap * (len(parts) - 1)
        utterance_seconds += sum(durations)
        low = math.ceil(margin * 1000)
        high = math.floor((bg.duration - margin - speech_seconds - 0.005) * 1000)
        onset = int(_rng(p["seed"], _ONSET, _key(bg.item_id)).integers(low, high + 1)) / 1000 if high >= low else 0.0
        items.append(Item(
            id=bg.item_id,
            speech=Speech(path=tuple(f"vctk:{u.relative}" for u in parts),
                          transcript=" ".join(vctk.transcript(u) for u in parts),
                          speaker=parts[0].speaker, onset=onset, gap=gap),
            background=Background(path=bg.path, source=bg.source, scene=bg.scene, events=bg.events,
                                  start=bg.start, duration=bg.window, speech_labels=bg.speech),
        ))
    stats = {"utterance_seconds": utterance_seconds, "speakers_eligible": len(eligible)}
    return items, stats


def _join(pool: _Pool, target: float, cap: float, gap: float):
    """Utterances whose speech (gaps not counted) comes nearest `target`, joined no longer than `cap` (gaps counted)."""
    first = pool.take(cap, set())
    if first is None:
        return None
    parts, durations = [first[0]], [first[1]]
    speech = joined = first[1]
    while speech < target:
        # the next utterance must bring the speech nearer the target than it is now; the joined length stays under the cap
        limit = min(cap - joined - gap, 2 * (target - speech) - 1e-9)
        if limit <= 0:
            break
        nxt = pool.take(limit, {u.utt_id for u in parts})
        if nxt is None:
            break
        parts.append(nxt[0])
        durations.append(nxt[1])
        speech += nxt[1]
        joined += gap + nxt[1]
    return parts, durations


# --------------------------------------------------------------------------- report
def _report(items, backgrounds, speech_stats, findings, paper, taxonomy, p, dropped, manifest_path, census) -> dict:
    by_id = {bg.item_id: bg for bg in backgrounds}
    used = [by_id[item.id] for item in items]
    sources = Counter(bg.source for bg in used)
    background_seconds = sum(bg.duration for bg in used)
    joined = speech_stats["utterance_seconds"] + sum(p["gap"] * (len(item.speech.parts) - 1) for item in items)
    n = len(items)
    figures = [
        ("DESED backgrounds", sources.get("desed", 0), paper["desed_backgrounds"]),
        ("MAESTRO-Real backgrounds", sources.get("maestro-real", 0), paper["maestro_backgrounds"]),
        ("mixtures per SNR", n, paper["desed_backgrounds"] + paper["maestro_backgrounds"]),
        ("speakers", len({item.speech.speaker for item in items}), paper["speakers"]),
        ("hours of speech", round(speech_stats["utterance_seconds"] / 3600, 4), paper["speech_hours"]),
        (f"hours in all ({p['snr_conditions']} SNRs)", round(background_seconds * p["snr_conditions"] / 3600, 4),
         paper["total_hours"]),
    ]
    scenes = Counter(item.background.scene for item in items)
    events = Counter(label for item in items for label in item.background.event_labels)
    per_source_scene = Counter((item.background.source, item.background.scene) for item in items)
    report = {
        "schema": REPORT_SCHEMA,
        "manifest": str(manifest_path),
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        "figures": [{"figure": name, "built": built, "paper": ref} for name, built, ref in figures],
        "backgrounds_per_source": dict(sorted(sources.items())),
        "backgrounds_per_scene": {s: scenes.get(s, 0) for s in taxonomy.scene_ids},
        "backgrounds_per_source_and_scene": {f"{src}/{sc}": c for (src, sc), c in sorted(per_source_scene.items())},
        "clips_per_event": {e: events.get(e, 0) for e in taxonomy.event_ids},
        "speech": {
            "seconds_joined": round(joined, 3),
            "seconds_utterances": round(speech_stats["utterance_seconds"], 3),
            "mean_seconds_per_mixture": round(speech_stats["utterance_seconds"] / n, 3) if n else 0.0,
            "mean_joined_seconds_per_mixture": round(joined / n, 3) if n else 0.0,
            "target_seconds": p["speech_target"],
            "utterances": sum(len(item.speech.parts) for item in items),
            "speakers_eligible": speech_stats["speakers_eligible"],
            "mixtures_per_speaker": _range(Counter(item.speech.speaker for item in items)),
        },
        "dropped_source_labels": {src: dict(sorted(c.items())) for src, c in dropped.items()},
        "speech_in_backgrounds": _speech_census(items, census, p, taxonomy),
        **findings.as_dict(),
        "parameters": {k: v for k, v in p.items()},
    }
    return report


def _speech_census(items, census: dict, p: dict, taxonomy: Taxonomy) -> dict:
    """Per source and scene: backgrounds whose annotation carries speech, and what leaving them out costs
    against the paper's count (DESED's 378 at home; MAESTRO-Real's 739 in even shares over its scenes)."""
    scenes = [s for s in taxonomy.scene_ids if ("maestro-real", s) in census]
    share = {("maestro-real", s): n for s, n in spread(p["maestro_clips"], dict.fromkeys(scenes, p["maestro_clips"]),
                                                          scenes).items()}
    share[("desed", "home")] = p["desed_clips"]
    built = Counter((i.background.source, i.background.scene) for i in items)
    built_speech = Counter((i.background.source, i.background.scene) for i in items if i.background.speech_labels)
    rows = {}
    for key in sorted(census, key=lambda k: (k[0], taxonomy.scene_ids.index(k[1]))):
        candidates, with_speech = census[key]["candidates"], census[key]["with_speech"]
        free = candidates - with_speech
        rows[f"{key[0]}/{key[1]}"] = {
            "paper_share": share[key], "built": built[key], "built_with_speech": built_speech[key],
            "candidates": candidates, "candidates_with_speech": with_speech, "speech_free_candidates": free,
            "short_of_share_without_speech": max(0, share[key] - free),
        }
    return {"rule": p["speech_backgrounds"], "per_source_and_scene": rows,
            "built_with_speech": sum(built_speech.values()), "built": len(items)}


def _range(counter: Counter) -> dict:
    values = list(counter.values())
    return {"min": min(values), "max": max(values)} if values else {"min": 0, "max": 0}


def report_markdown(report: dict) -> str:
    lines = ["# SSEU-Bench build report", "", f"Manifest: `{report['manifest']}` (sha256 `{report['manifest_sha256'][:16]}...`)", ""]
    lines.append(tabulate([(f["figure"], f["built"], f["paper"]) for f in report["figures"]],
                          headers=["figure", "this build", "paper"], tablefmt="github"))
    lines += ["", "## Backgrounds per scene", ""]
    lines.append(tabulate(list(report["backgrounds_per_scene"].items()), headers=["scene", "backgrounds"], tablefmt="github"))
    lines += ["", "## Clips per event class", ""]
    lines.append(tabulate(list(report["clips_per_event"].items()), headers=["event", "clips"], tablefmt="github"))
    sp = report["speech"]
    lines += ["", "## Speech", "",
              f"{sp['utterances']} utterances, {sp['seconds_utterances'] / 3600:.3f} h of speech without the gaps "
              f"between joined utterances ({sp['seconds_joined'] / 3600:.3f} h with them), "
              f"{sp['mean_seconds_per_mixture']} s of speech per mixture (target {sp['target_seconds']} s, gaps not "
              f"counted); {sp['mixtures_per_speaker']['min']}-{sp['mixtures_per_speaker']['max']} "
              f"mixtures per speaker; {sp['speakers_eligible']} speakers eligible."]
    census = report["speech_in_backgrounds"]
    lines += ["", "## Backgrounds whose annotation carries speech", "",
              f"Rule: `--speech-backgrounds {census['rule']}`; {census['built_with_speech']} of {census['built']} "
              "built backgrounds carry speech (DESED `Speech`; MAESTRO-Real `people talking`, `children voices`, "
              "`announcement`). Candidates are the backgrounds the build could draw from; the last column is what "
              "`--speech-backgrounds exclude` costs against the paper's count (an even share per MAESTRO-Real scene).", ""]
    lines.append(tabulate(
        [(k, r["paper_share"], r["built"], r["built_with_speech"], r["candidates"], r["candidates_with_speech"],
          r["speech_free_candidates"], r["short_of_share_without_speech"]) for k, r in census["per_source_and_scene"].items()],
        headers=["source/scene", "paper share", "built", "built with speech", "candidates", "with speech",
                 "speech-free", "short without speech"], tablefmt="github"))
    dropped = [(src, label, n) for src, labels in report["dropped_source_labels"].items() for label, n in labels.items()]
    if dropped:
        lines += ["", "## Source labels dropped (annotation rows / 1 s segments)", ""]
        lines.append(tabulate(dropped, headers=["corpus", "label", "rows"], tablefmt="github"))
    for title, key in (("Skipped", "skipped"), ("Notes (kept, converted or dropped)", "notes")):
        if report[key]:
            lines += ["", f"## {title}", ""]
            for kind, entry in report[key].items():
                lines.append(f"- **{kind}**: {entry['count']}")
                lines += [f"  - {example}" for example in entry["examples"]]
    return "\n".join(lines) + "\n"


def report_terminal(report: dict) -> str:
    parts = [tabulate([(f["figure"], f["built"], f["paper"]) for f in report["figures"]],
                      headers=["figure", "this build", "paper"], tablefmt="simple")]
    parts.append("per scene: " + ", ".join(f"{s} {n}" for s, n in report["backgrounds_per_scene"].items()))
    parts.append("per event: " + ", ".join(f"{e} {n}" for e, n in report["clips_per_event"].items()))
    census = report["speech_in_backgrounds"]
    parts.append(f"speech in backgrounds ({census['rule']}): {census['built_with_speech']} of {census['built']} built; "
                 + ", ".join(f"{k} {r['built_with_speech']}/{r['built']} (speech-free candidates {r['speech_free_candidates']}"
                             f" for a share of {r['paper_share']})" for k, r in census["per_source_and_scene"].items()))
    for key in ("skipped", "notes"):
        for kind, entry in report[key].items():
            first = f": {entry['examples'][0]}" if entry["examples"] else ""
            parts.append(f"{key[:-1] if key == 'notes' else 'skipped'} {kind} x{entry['count']}{first}")
    return "\n".join(parts)


def write_report(out: Path, report: dict) -> None:
    write_atomic(out / f"{REPORT_NAME}.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    write_atomic(out / f"{REPORT_NAME}.md", report_markdown(report))


def write_atomic(path: Path, text: str, validate=None) -> None:
    """Write `path` whole or not at all; `validate(temp)` must load it back first (optional)."""

    def check(temp: Path) -> None:
        try:
            validate(temp)
        except SSEUError as exc:
            raise type(exc)(f"the written {path.name} does not load back: {exc}") from exc

    atomic.write_text(path, text, check if validate is not None else None)
