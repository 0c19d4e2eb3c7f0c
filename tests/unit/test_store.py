"""The prediction store and the answer source: reuse, failure isolation, timeouts, corrupt files."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

from model_adapters.oracle.adapter import OracleAdapter
from sseu_harness.adapter import Adapter, ClassScores, Failure, Request
from sseu_harness.dataset.manifest import load_manifest
from sseu_harness.dataset.mixer import Mixer
from sseu_harness.errors import ConfigError, SSEUError
from sseu_harness.run.inference import AnswerSource, ModelSlot
from sseu_harness.run.store import MAX_STORED_CHARS, PredictionStore, answer_key
from sseu_harness.scoring.embedders.registry import make_embedder
from sseu_harness.spec.cases import Case

ITEMS = load_manifest().items[:6]
CASE = Case("counting", "ASR", "snr_0", "independent")


class Counting(Adapter):
    name = "counting"
    batch_size = 4

    def __init__(self, answers=None, fail_on=(), sleep_on=(), deterministic=True):
        self.calls, self.clips = 0, 0
        self.fixed, self.fail_on, self.sleep_on = answers, set(fail_on), set(sleep_on)
        self.deterministic = deterministic

    def answer(self, requests: list[Request]) -> list[str]:
        self.calls += 1
        self.clips += len(requests)
        for r in requests:
            if r.item.id in self.fail_on:
                raise ValueError(f"cannot do {r.item.id}")
            if r.item.id in self.sleep_on:
                time.sleep(5)
        return [self.fixed if self.fixed is not None else r.item.speech.transcript for r in requests]


def slot_for(adapter: Adapter) -> ModelSlot:
    return ModelSlot("counting", type(adapter), type(adapter).identity({}), lambda: adapter)


@pytest.fixture
def source(tmp_path):
    return AnswerSource(Mixer(load_manifest()), PredictionStore(tmp_path / "p.sqlite"), timeout=2.0)


def test_answers_are_stored_at_once_and_reused(source):
    adapter = Counting()
    first = source.answers(slot_for(adapter), ITEMS, CASE, "prompt", 0)
    assert adapter.clips == 6 and first.from_store == 0
    second = source.answers(slot_for(adapter), ITEMS, CASE, "prompt", 0)
    assert adapter.clips == 6 and second.from_store == 6
    assert second.answers == first.answers == [i.speech.transcript for i in ITEMS]
    assert source.store.count() == 6


def test_what_changes_an_answer_changes_its_key(source):
    adapter = Counting()
    source.answers(slot_for(adapter), ITEMS, CASE, "prompt", 0)
    source.answers(slot_for(adapter), ITEMS, CASE, "another prompt", 0)
    source.answers(slot_for(adapter), ITEMS, Case("counting", "ASR", "snr_m5", "independent"), "prompt", 0)
    source.answers(slot_for(adapter), ITEMS, CASE, "prompt", 1)
    assert adapter.clips == 24
    other = ModelSlot("counting", Counting, {"temperature": 0.7}, lambda: adapter)
    source.answers(other, ITEMS, CASE, "prompt", 0)
    assert adapter.clips == 30


def test_answers_mixed_under_another_mixing_rule_are_not_reused(source, monkeypatch):
    from sseu_harness.run import inference

    adapter = Counting()
    monkeypatch.setattr(inference, "MIXER_VERSION", "sseu-mix-1")  # answers stored under the old level rule
    source.answers(slot_for(adapter), ITEMS, CASE, "prompt", 0)
    monkeypatch.undo()
    again = source.answers(slot_for(adapter), ITEMS, CASE, "prompt", 0)
    assert adapter.clips == 12 and again.from_store == 0


def test_empty_answers_are_stored_too(source):
    adapter = Counting(answers="")
    source.answers(slot_for(adapter), ITEMS, CASE, "p", 0)
    again = source.answers(slot_for(adapter), ITEMS, CASE, "p", 0)
    assert adapter.clips == 6 and again.answers == [""] * 6


def test_a_failing_clip_fails_alone_and_is_retried_next_time(source):
    bad = ITEMS[1].id
    adapter = Counting(fail_on={bad})
    got = source.answers(slot_for(adapter), ITEMS, CASE, "p", 0)
    assert isinstance(got.answers[1], Failure) and f"ValueError: cannot do {bad}" == got.answers[1].reason
    assert all(isinstance(a, str) for k, a in enumerate(got.answers) if k != 1)
    assert source.store.count() == 5
    healed = Counting()
    again = source.answers(slot_for(healed), ITEMS, CASE, "p", 0)
    assert healed.clips == 1 and again.answers[1] == ITEMS[1].speech.transcript


def test_a_hanging_call_times_out_as_a_failure(source):
    adapter = Counting(sleep_on={ITEMS[2].id})
    adapter.batch_size = 1
    started = time.perf_counter()
    got = source.answers(slot_for(adapter), ITEMS[:3], CASE, "p", 0)
    assert time.perf_counter() - started < 4.5
    assert isinstance(got.answers[2], Failure) and "no answer within 2 s" in got.answers[2].reason


def test_rescore_uses_only_the_store(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite")
    AnswerSource(Mixer(load_manifest()), store).answers(slot_for(Counting()), ITEMS[:3], CASE, "p", 0)

    def no_load():
        raise AssertionError("rescore loaded the model")

    rescoring = AnswerSource(Mixer(load_manifest()), store, rescore=True)
    slot = ModelSlot("counting", Counting, Counting.identity({}), no_load)
    assert rescoring.answers(slot, ITEMS[:3], CASE, "p", 0).from_store == 3
    with pytest.raises(SSEUError, match="3 of 6 answers of counting-ASR-snr_0-independent are not in the prediction store"):
        rescoring.answers(slot, ITEMS, CASE, "p", 0)


def test_class_scores_round_trip_exactly(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite")
    scores = ClassScores(scenes=np.array([0.1, 1 / 3, 0.2, 0.0, 0.9, 1e-17]), events=None)
    identity = {"model": "m", "item": "i", "snr": "snr_0", "mode": "independent", "task": "ASC", "seed": None}
    store.put_many([(answer_key(identity), identity, scores)])
    back = store.get_many([answer_key(identity)])[answer_key(identity)]
    assert np.array_equal(back.scenes, scores.scenes) and back.events is None


def test_huge_answers_keep_head_and_tail(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite")
    text = "Scene: home\n" + "x" * (MAX_STORED_CHARS + 10) + "\nEvents: dog"
    identity = {"model": "m", "item": "i", "snr": "snr_0", "mode": "joint", "task": None, "seed": None}
    store.put_many([("k", identity, text)])
    back = store.get_many(["k"])["k"]
    assert back.startswith("Scene: home") and back.endswith("Events: dog") and len(back) < len(text)


def test_a_corrupt_store_is_a_clear_error_never_an_empty_store(tmp_path):
    path = tmp_path / "p.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match=f"prediction store {path} is corrupt.*--sseu-store"):
        PredictionStore(path)


def test_a_store_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "p.sqlite"
    PredictionStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE store_meta SET value = 'sseu-store/0'")
    with pytest.raises(ConfigError, match="has schema 'sseu-store/0'"):
        PredictionStore(path)


@pytest.mark.parametrize("tables", [
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
    "CREATE TABLE answers (id INTEGER PRIMARY KEY, text TEXT)",  # our table's name, another tool's columns
])
def test_a_foreign_sqlite_file_is_refused_and_left_byte_for_byte_untouched(tmp_path, tables):
    path = tmp_path / "p.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(tables)
        conn.execute("INSERT INTO {} VALUES (1, 'keep me')".format(tables.split()[2]))
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=f"prediction store {path} is a SQLite file of another tool or version "
                                          r"\(.*\); it was left untouched: pass --sseu-store with another path"):
        PredictionStore(path)
    assert path.read_bytes() == before and not (tmp_path / "p.sqlite-wal").exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert [n for (n,) in conn.execute("SELECT name FROM sqlite_master")] == [tables.split()[2]]
    conn.close()


def test_an_empty_sqlite_file_becomes_a_store(tmp_path):
    path = tmp_path / "p.sqlite"
    sqlite3.connect(path).close()  # a 0-byte file: SQLite's empty database
    PredictionStore(path).put_many([("k", {"model": "m", "item": "i", "snr": "snr_0", "mode": "joint", "task": None,
                                           "seed": None}, "text")])
    assert PredictionStore(path).count() == 1


def make_read_only(path):
    """Read-only even for root (who writes through file modes): the immutable attribute, else the mode."""
    import os
    import subprocess

    if os.geteuid() != 0:
        path.chmod(0o444)
        return lambda: path.chmod(0o644)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without the immutable attribute: nothing is read-only")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_unwritable_store_paths_are_clear_errors_naming_the_fix(tmp_path):
    folder = tmp_path / "store.sqlite"
    folder.mkdir()
    with pytest.raises(ConfigError, match=f"prediction store {folder} is a folder; pass --sseu-store with a file"):
        PredictionStore(folder)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ConfigError, match=f"cannot create the folder {blocker / 'sub'} for the prediction store "
                                          r"\(.*\); make it creatable or pass --sseu-store with another path"):
        PredictionStore(blocker / "sub" / "p.sqlite")
    with pytest.raises(ConfigError, match="cannot create the folder .* for the embedding cache .*--sseu-cache-dir"):
        make_embedder("minilm", blocker / "cache")
    path = tmp_path / "ro.sqlite"
    PredictionStore(path)
    with sqlite3.connect(path) as conn:  # our store, in rollback mode as a copy from elsewhere may be
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    undo = make_read_only(path)
    try:
        with pytest.raises(ConfigError, match=f"cannot write the prediction store {path} .*; make the file and its "
                                              "folder writable, or pass --sseu-store with another path"):
            PredictionStore(path)
    finally:
        undo()


def test_the_oracle_through_the_source_matches_a_direct_call(source):
    oracle = OracleAdapter()
    slot = ModelSlot("oracle", OracleAdapter, OracleAdapter.identity({}), lambda: oracle)
    case = Case("oracle", "AT", "snr_m5", "independent")
    got = source.answers(slot, ITEMS, case, "p", 0)
    assert got.answers == [a for a in oracle.answer([Request(i, np.zeros(1, np.float32), "p", "AT", "independent", 0) for i in ITEMS])]
