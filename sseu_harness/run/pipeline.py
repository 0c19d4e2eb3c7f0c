"""Streaming a model's work: a bounded prefetch ahead of the model, calls in flight without barriers.

Why: a served model sits idle whenever the harness mixes audio, encodes WAV or
waits for the slowest request of a batch. Here every case (and run) a process
will run is a `Job`; the jobs of one model share an `Engine` with

* a prefetch thread (two for served models on 4 cores or more) that mixes, resamples and
  ``adapter.prepare_request``s upcoming clips into a bounded queue (soxr and soundfile release the GIL), in
  item-major order over the known jobs, so the mixer's small cache of decoded
  sources hits and each item's sources are decoded once per pass: a served
  model gets an item's clips of every job one after another, a batching
  model one batch of items per job, job after job;
* ``adapter.concurrency`` dispatch threads, each taking the next prepared unit
  as soon as it is free: one clip for concurrent (served) adapters, a batch of
  ``batch_size`` clips of one job otherwise;
* a writer thread that stores answers as they arrive: every unit when the
  adapter runs one call at a time, at least every `COMMIT_INTERVAL_S`
  otherwise, and always before a job is reported done (a finished case's
  answers are in the store). A commit that fails (the store locked beyond
  SQLite's busy wait, an unwritable disk) turns the answers it held, and only
  those, into failures: counted in their cases, not stored, asked again by a
  rerun.

Nothing waits without a bound: a job is done when its every clip is answered
and written, or when it fails; a case waiting on a job whose engine has a
dead thread, or that has done nothing for longer than a call may take, fails
with a message instead of hanging. An adapter that raises `ModelGaveUp` (a
dead server) fails its engine's remaining jobs at once.

While a pipeline has engines, the objects that existed when the first one
started (imported libraries, the collected cases: hundreds of thousands) are
kept out of the garbage collector's sight (`gc.freeze`). A full collection
walks them all with every thread stopped, 90-230 ms each on this project's
test machine, several times a session: a served model waits through each.

Joint and CoT cases of one (model, SNR, mode) group share one job. A job's
``model_seconds`` is the time its calls took divided by the calls in flight,
so that over a process the cases' seconds add up to its wall time.
"""

from __future__ import annotations

import gc
import heapq
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from sseu_harness.adapter import Adapter, Answer, Failure, Request
from sseu_harness.dataset.manifest import Item
from sseu_harness.errors import ModelGaveUp, SSEUError
from sseu_harness.redaction import failure_reason
from sseu_harness.spec.cases import Case

if TYPE_CHECKING:
    from sseu_harness.run.inference import AnswerSource, ModelSlot


def _cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


COMMIT_INTERVAL_S = 1.0
PREFETCH_CLIPS = 64  # prepared clips waiting for the model, at most (plus one unit per dispatch thread)
# Prefetch threads of a served model. soxr, numpy and soundfile release the GIL, so a second thread overlaps
# the first where cores are plenty. On 2 cores it cost 0.7 ms more CPU per clip (GIL and cache contention: 5.3
# vs 6.0 ms against a zero-latency server) for 8 % more throughput at concurrency 128 (0.36 vs 0.33), and the
# cores are what the calls in flight and a local server need (benchmarks/serving_speed.py, figures 2 and 3).
PREFETCH_THREADS = 2 if _cores() >= 4 else 1
STALL_GRACE_S = 60.0  # beyond the call limit: a commit interval and SQLite's 30 s busy wait, with room to spare


@dataclass(eq=False)
class Job:
    """One case-run's answers: looked up in the store when planned, the rest asked for in units."""

    slot: "ModelSlot"
    items: Sequence[Item]
    case: Case
    prompt: str
    seed: int
    keys: list[str]
    answers: list[Answer | Failure | None]
    todo: list[int]
    from_store: int
    order: int
    error: BaseException | None = None
    traceback: object = None  # the error's traceback where it happened (re-raised fresh by every reader)
    cursor: int = 0  # next position in `todo` to hand to the prefetch
    unanswered: int = 0  # clips asked for and not yet answered
    remaining: int = 0  # clips asked for and not yet answered and stored
    model_seconds: float = 0.0
    charged: bool = False  # its model time is counted once, by the first case that reads it
    queued: bool = False  # handed to its model's engine
    done: threading.Event = field(default_factory=threading.Event)


class Engine:
    """The threads that keep one loaded adapter busy."""

    def __init__(self, source: "AnswerSource", adapter: Adapter) -> None:
        self.source = source
        self.adapter = adapter
        self.concurrency = max(1, int(getattr(adapter, "concurrency", 1) or 1))
        self.unit = 1 if self.concurrency > 1 else max(1, int(adapter.batch_size))
        source.mixer.reserve(self.unit)  # a unit's items are decoded together: the cache must hold them
        self.interval = 0.0 if self.concurrency == 1 else COMMIT_INTERVAL_S
        adapter.call_timeout = source.timeout  # so that a call it abandons frees what it holds by then
        self.gave_up: ModelGaveUp | None = None
        self.active = time.monotonic()  # when a thread last did something (a unit prepared, called, written)
        self._lock = threading.Condition()
        self._heap: list[tuple[int, int, int, Job]] = []  # (block of items, job order, serial, job)
        self._serial = 0
        self._closing = False
        self._ready: queue.Queue = queue.Queue(maxsize=max(1, PREFETCH_CLIPS // self.unit))
        self._writes: queue.Queue = queue.Queue()
        self._busy = 0  # units being answered
        # in-process models keep one prefetch thread: their batches are made in the order of a fresh run
        prefetchers = PREFETCH_THREADS if self.concurrency > 1 else 1
        self._threads = [threading.Thread(target=self._prefetch, name=f"sseu-prefetch-{k}", daemon=True)
                         for k in range(prefetchers)]
        self._threads.append(threading.Thread(target=self._write, name="sseu-store-writer", daemon=True))
        self._threads += [threading.Thread(target=self._dispatch, name=f"sseu-call-{k}", daemon=True)
                          for k in range(self.concurrency)]
        for thread in self._threads:
            thread.start()

    # --- jobs in ----------------------------------------------------------------------

    def add(self, job: Job) -> None:
        self.active = time.monotonic()
        if self.gave_up is not None:
            job.queued = True
            self._fail(job, self.gave_up)
            return
        with self._lock:
            job.queued = True
            self._push(job)
            self._lock.notify_all()

    def _push(self, job: Job) -> None:
        if job.cursor < len(job.todo) and job.error is None:
            self._serial += 1
            heapq.heappush(self._heap, (job.todo[job.cursor] // self.unit, job.order, self._serial, job))

    def _next_unit(self) -> tuple[Job, list[int]] | None:
        """The next unit in (block of `unit` items, job order): one job's todo clips of the lowest pending block."""
        with self._lock:
            while not self._heap and not self._closing:
                self._lock.wait()
            if self._closing:
                return None
            block, _, _, job = heapq.heappop(self._heap)
            unit = []
            while (job.cursor < len(job.todo) and len(unit) < self.unit
                   and job.todo[job.cursor] // self.unit == block):
                unit.append(job.todo[job.cursor])
                job.cursor += 1
            self._push(job)
            return job, unit

    # --- the three kinds of threads ---------------------------------------------------------

    def _prefetch(self) -> None:
        mixer, adapter = self.source.mixer, self.adapter
        while True:
            got = self._next_unit()
            if got is None:
                return
            job, unit = got
            if job.error is not None:
                continue
            try:
                task = job.case.task if job.case.mode == "independent" else None
                requests = [adapter.prepare_request(Request(
                    job.items[k], mixer.waveform(job.items[k], job.case.snr_db, adapter.sample_rate),
                    job.prompt, task, job.case.mode, job.seed, system=getattr(job.prompt, "system", None)))
                    for k in unit]
            except Exception as exc:  # noqa: BLE001 - bad audio fails its case, named, not the process
                self._fail(job, exc)
                continue
            self.active = time.monotonic()
            self._put(self._ready, (job, unit, requests))

    def _dispatch(self) -> None:
        while True:
            got = self._ready.get()
            if got is None:
                return
            job, unit, requests = got
            if self.gave_up is not None:
                self._fail(job, self.gave_up)
            with self._lock:
                if self._closing or job.error is not None:
                    continue
                self._busy += 1
            self.active = time.monotonic()
            try:
                started = time.perf_counter()
                results = self.source.ask(self.adapter, requests)
                elapsed = time.perf_counter() - started
            except ModelGaveUp as exc:
                self._give_up(job, exc)
                results, elapsed = None, 0.0
            except BaseException as exc:  # noqa: BLE001 - e.g. an adapter returning the wrong count
                self._fail(job, exc)
                results, elapsed = None, 0.0
            self.active = time.monotonic()
            if results is not None:
                self._writes.put((job, unit, results, elapsed / self.concurrency))
            with self._lock:  # after the hand-over: `close` waits for busy units to reach the writer
                self._busy -= 1
                self._lock.notify_all()

    def _write(self) -> None:
        store = self.source.store
        last = 0.0
        while True:
            first = self._writes.get()
            if first is None:
                return
            batch = [first]
            finished = self._absorb(first)
            deadline = last + self.interval
            while not finished and time.monotonic() < deadline:  # gather until a job completes or the interval ends
                entry = self._next_write(max(deadline - time.monotonic(), 0.001))
                if entry is None:
                    break
                batch.append(entry)
                finished |= self._absorb(entry)
            while (entry := self._next_write(None)) is not None:  # and whatever else is already waiting
                batch.append(entry)
                self._absorb(entry)
            if store is not None:
                self._commit(store, batch)
            last = self.active = time.monotonic()
            for job, unit, _, _ in batch:
                with self._lock:
                    job.remaining -= len(unit)
                    if job.remaining == 0:
                        job.done.set()

    def _commit(self, store, batch: list[tuple]) -> None:
        """Store a batch's answers in one transaction; if that fails, those answers (only they) become failures.

        Their cases count them (a store that cannot be written fails the cases waiting on it through
        --sseu-max-error-rate), and a rerun asks for them again; every other answer stays.
        """
        try:
            store.put_many([(job.keys[k], self.source.identity_of(job, k), answer)
                            for job, unit, results, _ in batch
                            for k, answer in zip(unit, results) if not isinstance(answer, Failure)])
        except Exception as exc:  # noqa: BLE001 - the answers it held fail, not the writer
            failure = Failure(f"not stored in the prediction store {store.path} ({failure_reason(exc)}); "
                              "a rerun asks for it again")
            for job, unit, results, _ in batch:
                for k, answer in zip(unit, results):
                    if not isinstance(answer, Failure):
                        job.answers[k] = failure

    def _next_write(self, timeout: float | None) -> tuple | None:
        """The next unit's answers within `timeout` (None: only one already waiting); None when there is none
        or the writer is closing (the closing mark is put back for the outer loop)."""
        try:
            entry = self._writes.get(timeout=timeout) if timeout is not None else self._writes.get_nowait()
        except queue.Empty:
            return None
        if entry is None:
            self._writes.put(None)
        return entry

    def _absorb(self, entry: tuple) -> bool:
        """Put a unit's answers into its job; True when that completes the job (commit now)."""
        job, unit, results, seconds = entry
        for k, answer in zip(unit, results):
            job.answers[k] = answer
        job.model_seconds += seconds
        with self._lock:
            job.unanswered -= len(unit)
            return job.unanswered == 0

    def _fail(self, job: Job, exc: BaseException) -> None:
        with self._lock:
            if job.error is None:
                job.error, job.traceback = exc, exc.__traceback__
            job.done.set()

    def _give_up(self, job: Job, exc: ModelGaveUp) -> None:
        """The model cannot answer any more: fail this job and every job still waiting for the model."""
        with self._lock:
            self.gave_up = self.gave_up or exc
            waiting = [entry[3] for entry in self._heap]
            self._heap.clear()
        for other in [job, *waiting]:
            self._fail(other, self.gave_up)

    def stalled(self, timeout: float | None) -> str | None:
        """Why this engine can no longer finish a job (a thread died, or nothing moved for longer than a unit's
        calls may take), or None."""
        dead = [t.name for t in self._threads if not t.is_alive()]
        if dead and not self._closing:
            return f"its thread {dead[0]} ended unexpectedly"
        if timeout:
            limit = timeout * (self.unit + 1) + STALL_GRACE_S  # a failed batch is retried clip by clip
            idle = time.monotonic() - self.active
            if idle > limit:
                return f"nothing moved for {idle:.0f} s (a unit's calls may take {limit:.0f} s)"
        return None

    def _put(self, target: queue.Queue, entry: object) -> None:
        while True:
            try:
                target.put(entry, timeout=0.2)
                return
            except queue.Full:
                if self._closing:
                    return

    # --- end ------------------------------------------------------------------------------------

    def close(self, wait_s: float) -> None:
        """Start no new call, let calls in flight finish (up to `wait_s`) and store their answers."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
            deadline = time.monotonic() + wait_s
            while self._busy and time.monotonic() < deadline:
                self._lock.wait(timeout=0.1)
        while True:
            try:
                self._ready.get_nowait()
            except queue.Empty:
                break
        for _ in range(self.concurrency):
            self._ready.put(None)
        self._writes.put(None)
        for thread in self._threads:
            if thread.name == "sseu-store-writer":
                thread.join(timeout=max(wait_s, 1.0))


class Pipeline:
    """The engines of one process, one per model, and the jobs planned for them."""

    def __init__(self, source: "AnswerSource", keep: int = 3) -> None:
        self.source = source
        self._engines: dict[str, Engine] = {}
        self._jobs: dict[tuple[str, str, int], Job] = {}
        self._read: dict[tuple[str, str, int], Job] = {}  # recently read shared jobs (joint/CoT groups)
        self._keep = keep
        self._order = 0

    @staticmethod
    def _key(case: Case, seed: int) -> tuple[str, str, int]:
        return case.model, case.group, seed

    def plan(self, slot: "ModelSlot", items: Sequence[Item], case: Case, prompt: str, seed: int) -> Job:
        """The job of a case-run, made (store looked up) unless it exists; queued if its model is running."""
        key = self._key(case, seed)
        job = self._jobs.get(key) or self._read.get(key)
        if job is not None:
            return job
        self._order += 1
        job = self.source.new_job(slot, items, case, prompt, seed, self._order)
        self._jobs[key] = job
        if not job.todo or job.error is not None:
            job.done.set()
        elif slot.label in self._engines and self._engines[slot.label].adapter is slot.load():  # already loaded
            self._engines[slot.label].add(job)
        return job

    def run(self, job: Job, progress: Callable[[int, int], None] | None = None) -> Job:
        """Wait for a job (starting its model's engine, which loads the model, when needed)."""
        if not job.done.is_set() and not job.queued:
            self._start(job.slot)
        total = len(job.items)
        if progress:  # what is done already (stored, or streamed before this case): the line's starting point
            progress(total - job.remaining, total)
        while not job.done.wait(0.5):
            if progress:
                progress(total - job.remaining, total)
            engine = self._engines.get(job.slot.label)
            why = engine.stalled(self.source.timeout) if engine is not None and job.queued else None
            if why:  # a bug of ours, not the model's: say so rather than wait forever
                job.error = job.error or SSEUError(
                    f"the answers of {job.case.id} stopped coming: model {job.slot.label}'s pipeline {why}; the "
                    "answers so far are stored and a rerun asks for the rest (please report this)")
                job.done.set()
        if progress and job.todo and job.error is None:
            progress(total, total)
        key = self._key(job.case, job.seed)
        if self._jobs.get(key) is job:
            del self._jobs[key]
            if job.case.mode != "independent":
                self._read[key] = job
                while len(self._read) > self._keep:
                    self._read.pop(next(iter(self._read)))
        if job.error is not None:  # the traceback where it happened: not grown by every case re-raising it
            raise job.error.with_traceback(job.traceback)  # type: ignore[arg-type]
        return job

    def _start(self, slot: "ModelSlot") -> None:
        """Load the model (in the caller's thread: its errors belong to the case) and queue its planned jobs."""
        adapter = slot.load()
        engine = self._engines.get(slot.label)
        if engine is not None and engine.adapter is not adapter:  # the same label, another model object
            if any(j.queued and not j.done.is_set() for j in self._jobs.values() if j.slot.label == slot.label):
                raise SSEUError(f"model {slot.label} was loaded again while its answers were streaming")
            engine.close(0.0)
            engine = None
        if engine is None:
            if not self._engines:
                gc.freeze()
            engine = self._engines[slot.label] = Engine(self.source, adapter)
        for pending in sorted(self._jobs.values(), key=lambda j: j.order):
            if pending.slot.label == slot.label and not pending.done.is_set() and not pending.queued:
                engine.add(pending)

    def close(self, wait_s: float) -> None:
        for engine in self._engines.values():
            engine.close(wait_s)
        if self._engines:
            gc.unfreeze()
        self._engines.clear()
