"""Streaming (issue 12): planned cases flow to the model without barriers, sources are decoded once per
pass, answers are stored as they arrive, and nothing a model is asked or a store keeps changes."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import numpy as np
import pytest

from model_adapters.oracle.adapter import OracleAdapter
from sseu_harness.adapter import Adapter, Request
from sseu_harness.dataset import mixer as mixer_module
from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.dataset.mixer import Mixer
from sseu_harness.errors import AudioError
from sseu_harness.run import inference
from sseu_harness.run.inference import AnswerSource, ModelSlot
from sseu_harness.run.store import PredictionStore
from sseu_harness.spec.cases import Case

MANIFEST = load_manifest()
ITEMS = MANIFEST.items
# Store keys written by the start commit (ab20c76) for the oracle on these cases and seeds, with the mixer
# version of that commit: sha256 over the sorted keys, one per line (156 = 26 items x 3 cases x 2 seeds).
GOLDEN_CASES = [Case("oracle", "ASR", "snr_0", "independent"), Case("oracle", "AT", "snr_m10", "joint"),
                Case("oracle", "ASC", "snr_minf", "cot")]
GOLDEN_KEYS_SHA256 = "e63ba833d11e9e1d87a1031997604e72bbee1340d4666415912f1c452af9d615"
START_MIXER_VERSION = "sseu-mix-1"


def audio_digest(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()[:16]


class Hearing(Adapter):
    """Answers with a hash of the audio it was given: any change in a mixture changes the answer."""

    name = "hearing"
    batch_size = 4

    def __init__(self, concurrency: int = 1, delay: float = 0.0) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.log: list[tuple[str, str, float, float]] = []  # (case tag, item, start, end)

    def answer(self, requests: list[Request]) -> list[str]:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        start = time.monotonic()
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            end = time.monotonic()
            self.log += [(r.prompt, r.item.id, start, end) for r in requests]
        return [f"Transcript: {audio_digest(r.audio)}" for r in requests]


def slot_for(adapter: Adapter, label: str = "hearing") -> ModelSlot:
    return ModelSlot(label, type(adapter), type(adapter).identity({}), lambda: adapter)


def test_store_keys_are_those_of_the_start_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(inference, "MIXER_VERSION", START_MIXER_VERSION)  # keys of the start commit's rule
    source = AnswerSource(Mixer(MANIFEST), PredictionStore(tmp_path / "p.sqlite"))
    oracle = OracleAdapter()
    slot = ModelSlot("oracle", OracleAdapter, OracleAdapter.identity({}), lambda: oracle)
    for case in GOLDEN_CASES:  # planned ahead, as a session does, then read
        for seed in (0, 3):
            source.plan(slot, ITEMS, case, "p-" + case.mode, seed)
    for case in GOLDEN_CASES:
        for seed in (0, 3):
            got = source.answers(slot, ITEMS, case, "p-" + case.mode, seed)
            task = case.task if case.mode == "independent" else None
            direct = oracle.answer([Request(i, np.zeros(1, np.float32), "p-" + case.mode, task, case.mode, seed)
                                    for i in ITEMS])
            assert got.answers == direct and got.from_store == 0
    with sqlite3.connect(tmp_path / "p.sqlite") as conn:
        keys = sorted(k for (k,) in conn.execute("SELECT key FROM answers"))
    assert len(keys) == 156
    assert hashlib.sha256("\n".join(keys).encode()).hexdigest() == GOLDEN_KEYS_SHA256
    source.close()


def test_streamed_mixtures_are_bit_identical_and_each_source_is_decoded_once(tmp_path, monkeypatch):
    decoded: list[str] = []
    real = mixer_module.read_mono

    def counting(path, *args, **kwargs):
        decoded.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(mixer_module, "read_mono", counting)
    adapter = Hearing()
    source = AnswerSource(Mixer(MANIFEST, cache_items=4), PredictionStore(tmp_path / "p.sqlite"))
    cases = [Case("hearing", "ASR", snr, mode) for snr in ("snr_p10", "snr_0", "snr_m10", "snr_pinf")
             for mode in ("independent", "joint")]
    for case in cases:
        source.plan(slot_for(adapter), ITEMS, case, case.id, 0)
    got = {case: source.answers(slot_for(adapter), ITEMS, case, case.id, 0).answers for case in cases}
    source.close()
    # each item's two source files read once for all 8 cases, although the cache holds only 4 items
    assert len(decoded) == 2 * len(ITEMS) and len(set(decoded)) == 2 * len(ITEMS)
    fresh = Mixer(MANIFEST, cache_items=1)
    for case in cases:
        expected = [f"Transcript: {audio_digest(fresh.waveform(item, case.snr_db, 16_000))}" for item in ITEMS]
        assert got[case] == expected, case.id


def test_a_served_model_gets_the_set_item_by_item_and_each_source_is_decoded_once(tmp_path, monkeypatch):
    """Concurrent adapters get an item's clips of every case one after another: a cache of 2 items suffices."""
    decoded: list[str] = []
    real = mixer_module.read_mono
    monkeypatch.setattr(mixer_module, "read_mono", lambda path, *a, **k: decoded.append(str(path)) or real(path, *a, **k))
    adapter = Hearing(concurrency=4)
    source = AnswerSource(Mixer(MANIFEST, cache_items=2), PredictionStore(tmp_path / "p.sqlite"))
    cases = [Case("hearing", "AT", snr, "independent") for snr in ("snr_p10", "snr_0", "snr_m10", "snr_minf")]
    for case in cases:
        source.plan(slot_for(adapter), ITEMS, case, case.id, 0)
    got = {case: source.answers(slot_for(adapter), ITEMS, case, case.id, 0).answers for case in cases}
    source.close()
    assert len(decoded) == 2 * len(ITEMS) and len(set(decoded)) == 2 * len(ITEMS)  # case-major order: 4 times
    fresh = Mixer(MANIFEST, cache_items=1)
    for case in cases:
        assert got[case] == [f"Transcript: {audio_digest(fresh.waveform(i, case.snr_db, 16_000))}" for i in ITEMS]


def test_the_session_heap_is_frozen_for_the_collector_only_while_models_stream(tmp_path):
    import gc

    class Frozen(Hearing):
        def answer(self, requests):
            self.frozen = gc.get_freeze_count()
            return super().answer(requests)

    before = gc.get_freeze_count()
    adapter = Frozen()
    source = AnswerSource(Mixer(MANIFEST), None)
    source.answers(slot_for(adapter), ITEMS[:2], Case("hearing", "ASR", "snr_0", "independent"), "p", 0)
    assert adapter.frozen > before  # what existed when the model started is out of the collector's sight
    source.close()
    assert gc.get_freeze_count() == before


class Overlap(Hearing):
    """Holds the last clip of the ASR case until a clip of the next case (ASC) is being answered."""

    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency)
        self.next_case_started = threading.Event()
        self.overlapped = False
        self.calls = 0
        self.together = threading.Barrier(concurrency, timeout=20)  # broken unless `concurrency` calls meet

    def answer(self, requests: list[Request]) -> list[str]:
        with self.lock:
            self.calls += 1
            first = self.calls <= self.concurrency
        if first:
            self.together.wait()
        if any(r.prompt == "ASC" for r in requests):
            self.next_case_started.set()
        if any(r.prompt == "ASR" and r.item.id == ITEMS[-1].id for r in requests):
            self.overlapped = self.next_case_started.wait(20)
        return super().answer(requests)


def test_calls_stream_across_cases_without_a_barrier(tmp_path):
    adapter = Overlap(concurrency=6)
    source = AnswerSource(Mixer(MANIFEST), PredictionStore(tmp_path / "p.sqlite"))
    cases = [Case("hearing", task, "snr_0", "independent") for task in ("ASR", "ASC", "AT")]
    for case in cases:
        source.plan(slot_for(adapter), ITEMS, case, case.task, 0)
    for case in cases:
        assert len(source.answers(slot_for(adapter), ITEMS, case, case.task, 0).answers) == len(ITEMS)
    source.close()
    assert adapter.overlapped  # the next case was asked while the previous one still had a call in flight
    assert not adapter.together.broken  # `concurrency` calls were in flight at once
    assert len(adapter.log) == 3 * len(ITEMS)  # one clip per call, each asked once


class Gate(Adapter):
    """Answers freely until `hold` clips are answered, then waits for `release` (a stalled model mid-case)."""

    name = "gate"
    batch_size = 2

    def __init__(self, hold: int) -> None:
        self.hold, self.answered = hold, 0
        self.release = threading.Event()

    def answer(self, requests: list[Request]) -> list[str]:
        if self.answered >= self.hold:
            self.release.wait(30)
        self.answered += len(requests)
        return [r.item.id for r in requests]


def test_answers_are_stored_while_the_case_is_still_running(tmp_path):
    adapter = Gate(hold=10)
    store = PredictionStore(tmp_path / "p.sqlite")
    source = AnswerSource(Mixer(MANIFEST), store)
    case = Case("gate", "ASR", "snr_0", "independent")
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(got=source.answers(slot_for(adapter, "gate"), ITEMS,
                                                                                 case, "p", 0)))
    thread.start()
    deadline = time.monotonic() + 30
    while store.count() < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count() == 10 and thread.is_alive()  # ten answers kept, the case not finished
    adapter.release.set()
    thread.join(30)
    assert result["got"].answers == [i.id for i in ITEMS] and store.count() == len(ITEMS)
    source.close()


def test_bad_audio_fails_its_case_with_the_file_named(tmp_path):
    broken = tmp_path / "set"
    broken.mkdir()
    lines = (MANIFEST.path).read_text().splitlines()
    (broken / "manifest.jsonl").write_text("\n".join(lines[:3]) + "\n")
    for sub in ("speech", "backgrounds"):
        (broken / sub).mkdir()
    import shutil

    manifest = load_manifest(broken / "manifest.jsonl")
    for item in manifest.items:
        for rel in (*item.speech.parts, item.background.path):
            shutil.copy(MANIFEST.resolve(rel), broken / rel)
    victim = manifest.items[1].background.path
    (broken / victim).write_bytes(b"not audio")
    source = AnswerSource(Mixer(manifest), None)
    with pytest.raises(AudioError, match="cannot decode .*" + victim.split("/")[-1]):
        source.answers(slot_for(Hearing()), manifest.items, Case("hearing", "ASR", "snr_0", "independent"), "p", 0)
    source.close()


def test_threads_racing_for_one_item_decode_its_sources_once(monkeypatch):
    decoded: list[str] = []
    real = mixer_module.read_mono

    def slow(path, *args, **kwargs):
        decoded.append(str(path))
        time.sleep(0.3)  # long enough for every thread to ask while the first decodes
        return real(path, *args, **kwargs)

    monkeypatch.setattr(mixer_module, "read_mono", slow)
    mixer = Mixer(MANIFEST)
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(mixer.sources(ITEMS[0]))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(decoded) == 2  # one speech file, one background, for four threads
    assert all(pair[0] is got[0][0] and pair[1] is got[0][1] for pair in got) and len(got) == 4


def test_the_progress_rate_counts_only_clips_answered_while_the_case_waited():
    from plugins.sseu.items import ProgressLine

    ahead = ProgressLine("c", started=100.0)  # all 26 clips streamed before the case started
    assert ahead.text(26, 26, 100.000001) == "\r    c: 26/26 clips "
    live = ProgressLine("c", started=100.0)
    assert live.text(6, 26, 100.0) == "\r    c: 6/26 clips "  # 6 stored or streamed ahead
    assert live.text(16, 26, 102.0) == "\r    c: 16/26 clips, 5.0 clips/s "  # 10 clips in 2 s


class Numbers(Hearing):
    """Answers a number (not text) for every third item: what a server's non-string content once became."""

    def answer(self, requests: list[Request]) -> list:
        texts = super().answer(requests)
        return [7 if ITEMS.index(r.item) % 3 == 0 else t for r, t in zip(requests, texts)]


def answers_within(source, adapter, case, seconds: float = 60.0):
    """The case's answers, or a failure when the pipeline does not finish within `seconds` (it once hung)."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(got=source.answers(slot_for(adapter), ITEMS, case, "p", 0)),
                              daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the case never finished"
    return result["got"]


def test_an_answer_the_store_cannot_encode_fails_its_clip_only_and_the_case_ends(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite")
    source = AnswerSource(Mixer(MANIFEST), store)
    got = answers_within(source, Numbers(concurrency=4), Case("hearing", "ASR", "snr_0", "independent"))
    odd = [k for k in range(len(ITEMS)) if k % 3 == 0]
    assert [k for k, a in enumerate(got.answers) if isinstance(a, inference.Failure)] == odd
    assert got.answers[odd[0]].reason == "TypeError: adapter hearing answered int, not text or ClassScores"
    assert store.count() == len(ITEMS) - len(odd)  # every other answer is stored
    source.close()


def test_a_store_locked_past_the_busy_wait_fails_only_the_answers_of_that_commit(tmp_path, monkeypatch):
    from sseu_harness.files import sqlite_file

    monkeypatch.setattr(sqlite_file, "BUSY_TIMEOUT_S", 0.2)
    store = PredictionStore(tmp_path / "p.sqlite")
    source = AnswerSource(Mixer(MANIFEST), store)
    case = Case("hearing", "ASR", "snr_0", "independent")
    adapter = Hearing(concurrency=2, delay=0.2)  # 2.6 s of answers; the lock holds for the first second
    source.plan(slot_for(adapter), ITEMS, case, "p", 0)
    holder = sqlite3.connect(tmp_path / "p.sqlite", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process's long transaction
    threading.Timer(1.0, holder.rollback).start()
    got = answers_within(source, adapter, case)
    failed = [a for a in got.answers if isinstance(a, inference.Failure)]
    assert 0 < len(failed) < len(ITEMS)  # the commits during the lock, not the rest of the case
    assert all(f.reason.startswith(f"not stored in the prediction store {store.path} (OperationalError: database "
                                   "is locked)") for f in failed)
    assert store.count() == len(ITEMS) - len(failed)
    source.close()
    again = AnswerSource(Mixer(MANIFEST), store)  # a rerun asks for exactly the answers not stored
    assert len(again.plan(slot_for(Hearing()), ITEMS, case, "p", 0).todo) == len(failed)


def test_an_error_raised_by_many_cases_keeps_its_traceback_short(tmp_path):
    """The three cases of a joint group read one job: each raises its error with the traceback of where it
    happened, not one grown by every earlier raise (a session's terminal once grew to 30,953 lines)."""
    source = AnswerSource(Mixer(MANIFEST), None, rescore=True)
    depths = []
    for task in ("ASR", "ASC", "AT"):
        with pytest.raises(inference.SSEUError) as info:
            source.answers(slot_for(Hearing()), ITEMS, Case("hearing", task, "snr_0", "joint"), "p", 0)
        depth, tb = 0, info.value.__traceback__
        while tb is not None:
            depth, tb = depth + 1, tb.tb_next
        depths.append(depth)
    assert depths[0] == depths[1] == depths[2]
