"""How much the harness costs next to inference (issue 7). Prints every figure; asserts nothing.

    python benchmarks/harness_speed.py [--items 1117] [--workdir DIR]

a. data floor: read, mix and resample to 16 kHz for every (case, clip) the
   harness feeds a model, in a tight loop (soundfile, numpy, soxr; no harness).
b. the whole harness (pytest, -n 0) over all cases with an adapter that
   answers at once, as a ratio to (a). Goal <= 1.5.
c. peak memory (RSS) of the harness at 1x and 4x the items, on one SNR and
   mode (3 cases). Goal: < 10% growth.
d. moved to benchmarks/serving_speed.py (a variable-latency server, the
   whole harness streaming to it; issue 12).
e. scoring: text-embedder calls per distinct answer string, cold and warm
   cache, and the scoring time.
f. on the first 100 items (all 54 cases: 3,200 clips to answer), a rerun on a
   warm prediction store against a cold run with a 50 ms-per-clip adapter.
   Goal >= 20x.
g. on the same subset, the speed-up of -n 2 over -n 0 (both cold) with the
   50 ms adapter.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic_set import build, scaled  # noqa: E402
from sseu_harness.dataset.manifest import load_manifest  # noqa: E402
from sseu_harness.spec.cases import build_cases  # noqa: E402
from sseu_harness.spec.snr import PAPER_SNRS_DB, snr_label  # noqa: E402

MIX = 44_100


def feeds_per_clip() -> list[tuple[float, str]]:
    """(SNR in dB, group) of every model call per clip: one per independent case, one per joint/CoT group."""
    cases = build_cases(["m"], [snr_label(db) for db in PAPER_SNRS_DB])
    return list(dict.fromkeys((case.snr_db, case.group) for case in cases))


def data_floor(manifest_path: Path) -> tuple[float, int]:
    manifest = load_manifest(manifest_path)
    feeds = feeds_per_clip()
    started = time.perf_counter()
    count = 0
    for snr, _ in feeds:
        for item in manifest.items:
            parts = []
            for path in item.speech.parts:
                wave, rate = sf.read(manifest.resolve(path), dtype="float32")
                parts += [soxr.resample(wave, rate, MIX), np.zeros(int(0.25 * MIX), np.float32)]
            speech = np.concatenate(parts[:-1])
            background, _ = sf.read(manifest.resolve(item.background.path), dtype="float32")
            start = int(round(item.speech.onset * MIX))
            mix = np.zeros_like(background) if snr == float("inf") else background.astype(np.float64)
            if np.isfinite(snr):
                gain = np.sqrt(np.mean(speech**2) / (np.mean(background[start:start + speech.size] ** 2) * 10 ** (snr / 10)))
                mix *= gain
            if snr != -float("inf"):
                mix[start:start + speech.size] += speech
            soxr.resample(mix.astype(np.float32), MIX, 16_000)
            count += 1
    return time.perf_counter() - started, count


def pytest_session(args: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MiB of the session's processes, output) of one real pytest session."""
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(p.stdout[-3000:]); print('RC', p.returncode); "
            "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    seconds = time.perf_counter() - started
    lines = out.stdout.splitlines()
    rc = int(next(l for l in lines if l.startswith("RC ")).split()[1])
    if rc != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed:\n{out.stdout[-3000:]}{out.stderr[-2000:]}")
    rss = int(next(l for l in lines if l.startswith("RSS ")).split()[1]) // 1024
    return seconds, rss, out.stdout


def harness(manifest: Path, work: Path, extra: list[str] = (), env: dict | None = None, store: Path | None = None):
    cache = store or Path(tempfile.mkdtemp(dir=work))
    return pytest_session([f"--sseu-data={manifest}", f"--sseu-cache-dir={cache}",
                           f"--sseu-report-dir={tempfile.mkdtemp(dir=work)}", *extra], env)


def scoring_figures(work: Path) -> dict:
    from sseu_harness.scoring.confidences import Scorer
    from sseu_harness.scoring.embedders.cache import CachedEmbedder
    from sseu_harness.scoring.embedders.minilm import MiniLMEmbedder
    from sseu_harness.spec.taxonomy import load_taxonomy

    rng = np.random.default_rng(0)
    taxonomy = load_taxonomy()
    names = [e.name for e in taxonomy.events] + ["a loud hum", "people chatting", "keyboard typing", "music"]
    answers = [[names[k] for k in rng.choice(len(names), size=2, replace=False)] for _ in range(1117)]
    # every distinct string the scorer needs: the answers' events and the class names it compares them with
    distinct = len({event for answer in answers for event in answer} | {e.name for e in taxonomy.events}
                   | {s.name for s in taxonomy.scenes})
    inner = MiniLMEmbedder()
    calls = {"strings": 0}
    original = inner.embed

    def counting(texts):
        calls["strings"] += len(texts)
        return original(texts)

    inner.embed = counting
    cache = CachedEmbedder(inner, work / "emb.sqlite")
    started = time.perf_counter()
    Scorer(cache, taxonomy).event_confidences_many(answers)
    cold, cold_calls = time.perf_counter() - started, calls["strings"]
    started = time.perf_counter()
    Scorer(CachedEmbedder(inner, work / "emb.sqlite"), taxonomy).event_confidences_many(answers)
    warm, warm_calls = time.perf_counter() - started, calls["strings"] - cold_calls
    return {"answers": len(answers), "distinct": distinct, "cold_calls": cold_calls, "warm_calls": warm_calls,
            "cold_s": cold, "warm_s": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1117)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sseu-bench")
    parser.add_argument("--skip", default="", help="comma list of parts to skip, e.g. a,b")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    started = time.perf_counter()
    manifest = build(work / "set", args.items)
    print(f"synthetic set: {args.items} items ({time.perf_counter() - started:.1f} s to make or find)")
    null = "--sseu-model=benchmarks.adapters:NullAdapter"
    figures = {}

    if "a" not in skip:
        seconds, feeds = data_floor(manifest)
        figures["a"] = seconds
        print(f"a. data floor: {feeds} feeds in {seconds:.1f} s = {1000 * seconds / feeds:.2f} ms per feed")
    if "b" not in skip:
        seconds, rss, _ = harness(manifest, runs, [null])
        line = f"b. whole harness, null adapter, -n 0: {seconds:.1f} s"
        if "a" in figures:
            line += f" = {seconds / figures['a']:.2f}x the data floor (goal <= 1.5)"
        print(line + f"; peak RSS {rss} MiB")
    if "c" not in skip:
        subset = ["--sseu-snrs=0", "--sseu-modes=independent", null]
        _, one, _ = harness(manifest, runs, subset)
        _, four, _ = harness(scaled(manifest, 4, work / "set-x4"), runs, subset)
        print(f"c. peak RSS, 3 cases: {one} MiB at {args.items} items, {four} MiB at {4 * args.items} items: "
              f"{100 * (four - one) / one:+.1f}% (goal < 10%)")
    if "e" not in skip:
        s = scoring_figures(runs)
        print(f"e. scoring {s['answers']} answers with {s['distinct']} distinct strings: cold {s['cold_calls']} "
              f"strings embedded ({s['cold_calls'] / s['distinct']:.2f} per distinct string) in {s['cold_s']:.2f} s; "
              f"warm {s['warm_calls']} embedded in {s['warm_s']:.3f} s")
    if "f" not in skip or "g" not in skip:
        small = scaled(manifest, 1, work / "set-100")
        small.write_text("\n".join(small.read_text().splitlines()[:101]) + "\n")
        sleepy = ["--sseu-model=benchmarks.adapters:SleepyAdapter"]
        store = Path(tempfile.mkdtemp(dir=runs))
        cold, _, _ = harness(small, runs, sleepy, store=store)
        warm, _, _ = harness(small, runs, sleepy, store=store)
        print(f"f. 100 items x 54 cases, 50 ms per clip: cold {cold:.1f} s, warm store {warm:.1f} s: "
              f"{cold / warm:.1f}x (goal >= 20x)")
        if "g" not in skip:
            parallel, _, _ = harness(small, runs, [*sleepy, "-n", "2"])
            print(f"g. same, cold: -n 0 {cold:.1f} s, -n 2 {parallel:.1f} s: {cold / parallel:.2f}x")


if __name__ == "__main__":
    main()
