"""Embedders: real MiniLM, the SQLite cache (also across processes), OpenAI over real HTTP."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.embedders import (
    CachedEmbedder,
    EmbeddingServiceError,
    MiniLMEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from tests.helpers.embeddings_server import EmbeddingsServer, fake_vector

KEY = "sk-test-SECRET-0123456789abcdef"


class HashEmbedder:
    """Deterministic embedder that counts its calls and the texts it was asked for."""

    def __init__(self, name: str = "test:hash") -> None:
        self.name = name
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.stack([fake_vector(t) for t in texts])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class FailingEmbedder:
    name = "test:hash"

    def embed(self, texts: list[str]) -> np.ndarray:
        raise AssertionError(f"inner embedder called for {texts}")


# --- (a) MiniLM, the real model ---------------------------------------------------------


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_minilm_semantics_and_unit_norm(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["dog", "a dog barking", "metro station"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    dog, barking, metro = vectors
    assert dog @ barking > dog @ metro + 0.2


def test_minilm_vector_does_not_depend_on_batch(minilm: MiniLMEmbedder) -> None:
    alone = minilm.embed(["cafe"])[0]
    batch = minilm.embed(
        [
            "a very long answer about people chatting over coffee while cups and dishes clink in a crowded room",
            "cafe",
            "x",
            "metro approaching the platform with brakes squeaking loudly",
        ]
    )
    assert np.array_equal(alone, batch[1])


def test_minilm_vector_does_not_depend_on_torch_threads(minilm: MiniLMEmbedder) -> None:
    import torch

    previous = torch.get_num_threads()
    # Unpinned, these two differ in the last bits between 1 and 2 threads (seen on a 2-core CPU).
    text = ["vacuum cleaner running in the next room", "Scene: city center"]
    try:
        torch.set_num_threads(1)
        one = minilm.embed(text)
        torch.set_num_threads(2)
        two = minilm.embed(text)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(previous)
    assert np.array_equal(one, two)


def test_minilm_empty_input(minilm: MiniLMEmbedder) -> None:
    assert minilm.embed([]).shape == (0, 0)


# --- (b) CachedEmbedder ------------------------------------------------------------------


def test_cache_second_call_does_not_reach_inner(tmp_path: Path) -> None:
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, tmp_path / "c.sqlite")
    texts = ["dog", "cat", "dog", "metro station"]
    first = cached.embed(texts)
    assert inner.calls == [["dog", "cat", "metro station"]]  # distinct, first-seen order, one call
    assert (cached.hits, cached.misses) == (0, 3)
    second = cached.embed(texts)
    assert len(inner.calls) == 1
    assert (cached.hits, cached.misses) == (3, 3)
    assert np.array_equal(first, second)
    assert first.dtype == np.float32
    assert np.array_equal(first, HashEmbedder().embed(texts))  # bit-exact round trip, input order
    assert cached.name == inner.name


def test_cache_embeds_only_the_missing_texts(tmp_path: Path) -> None:
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, tmp_path / "c.sqlite")
    cached.embed(["a", "b"])
    cached.embed(["b", "c", "a", "d", "c"])
    assert inner.calls == [["a", "b"], ["c", "d"]]
    assert (cached.hits, cached.misses) == (2, 4)


def test_cache_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.sqlite"
    expected = CachedEmbedder(HashEmbedder(), path).embed(["x", "y"])
    again = CachedEmbedder(FailingEmbedder(), path)
    assert np.array_equal(again.embed(["y", "x"]), expected[::-1])
    assert again.hits == 2 and again.misses == 0


def test_cache_is_keyed_by_embedder_name(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    CachedEmbedder(HashEmbedder("test:one"), path).embed(["x"])
    other = HashEmbedder("test:two")
    CachedEmbedder(other, path).embed(["x"])
    assert other.calls == [["x"]]


def test_cache_stores_raw_float32_not_pickle(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    CachedEmbedder(HashEmbedder(), path).embed(["x"])
    with sqlite3.connect(path) as conn:
        (blob,) = conn.execute("SELECT vector FROM embeddings WHERE text = 'x'").fetchone()
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"
    assert len(blob) == 8 * 4
    assert np.array_equal(np.frombuffer(blob, dtype="<f4"), HashEmbedder().embed(["x"])[0])


def test_corrupt_cache_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite"
    path.write_bytes(b"this is not a sqlite database " * 100)
    with pytest.raises(ConfigError, match="delete") as info:
        CachedEmbedder(HashEmbedder(), path)
    assert str(path) in str(info.value)


def _hammer_cache(path: str, worker: int, barrier: threading.Barrier) -> None:
    """Child process: embed overlapping texts in small batches into the shared cache."""
    barrier.wait(timeout=20)
    cached = CachedEmbedder(HashEmbedder(), Path(path))  # both create the new file at once
    texts = [f"text {i}" for i in range(120)]
    order = texts if worker == 0 else texts[::-1]
    for start in range(0, len(order), 6):
        chunk = order[start : start + 6]
        got = cached.embed(chunk)
        assert np.array_equal(got, HashEmbedder().embed(chunk))


def test_cache_shared_by_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_hammer_cache, args=(str(path), w, barrier)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    texts = [f"text {i}" for i in range(120)]
    reread = CachedEmbedder(FailingEmbedder(), path)
    assert np.array_equal(reread.embed(texts), HashEmbedder().embed(texts))


# --- (c) OpenAIEmbedder against a loopback /v1/embeddings server --------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddingsServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    srv = EmbeddingsServer()
    yield srv
    srv.close()
    assert not srv.thread.is_alive()


def _expected(texts: list[str]) -> np.ndarray:
    rows = np.stack([fake_vector(t, dim=16) for t in texts])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_openai_rows_in_input_order_even_if_shuffled(server: EmbeddingsServer) -> None:
    server.shuffle = True
    texts = [f"event {i}" for i in range(9)]
    got = OpenAIEmbedder(base_url=server.url, api_key=KEY).embed(texts)
    assert got.dtype == np.float32 and got.shape == (9, 16)
    np.testing.assert_allclose(got, _expected(texts), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    body = server.requests[0]["body"]
    assert body["model"] == "text-embedding-3-large" and body["encoding_format"] == "float"


def test_openai_batches_requests(server: EmbeddingsServer) -> None:
    texts = [f"t{i}" for i in range(7)]
    got = OpenAIEmbedder(base_url=server.url, api_key=KEY, batch_size=3).embed(texts)
    assert [r["body"]["input"] for r in server.requests] == [texts[0:3], texts[3:6], texts[6:7]]
    np.testing.assert_allclose(got, _expected(texts), rtol=1e-6)


def test_openai_retries_a_429(server: EmbeddingsServer) -> None:
    server.fail_next = [(429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})]
    got = OpenAIEmbedder(base_url=server.url, api_key=KEY, max_retries=2).embed(["dog"])
    assert len(server.requests) == 2
    np.testing.assert_allclose(got, _expected(["dog"]), rtol=1e-6)


def test_openai_sends_bearer_key_and_never_shows_it(server: EmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(base_url=server.url, api_key=KEY)
    embedder.embed(["dog"])
    assert server.requests[0]["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(embedder) and KEY not in str(embedder)
    assert KEY not in embedder.name


def test_openai_debug_logs_do_not_carry_the_key(server: EmbeddingsServer, caplog: pytest.LogCaptureFixture) -> None:
    server.fail_next = [(429, {"error": {"message": "slow down", "type": "requests"}})]
    with caplog.at_level(logging.DEBUG):
        OpenAIEmbedder(base_url=server.url, api_key=KEY, max_retries=1).embed(["dog"])
    assert "embeddings" in caplog.text  # the request was logged ...
    assert KEY not in caplog.text  # ... without its Authorization header


def _rendered(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_openai_auth_error_redacts_the_key(server: EmbeddingsServer) -> None:
    # A server that echoes the key it was given: our error must not repeat it.
    server.fail_next = [(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}})]
    with pytest.raises(ConfigError, match="OPENAI_API_KEY") as info:
        OpenAIEmbedder(base_url=server.url, api_key=KEY).embed(["dog"])
    assert KEY not in _rendered(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert len(server.requests) == 1  # a 401 is not retried


def test_openai_server_errors_exhaust_retries(server: EmbeddingsServer) -> None:
    error = (500, {"error": {"message": f"boom for {KEY}", "type": "server_error"}})
    server.fail_next = [error] * 3
    with pytest.raises(EmbeddingServiceError, match="after 2 retries") as info:
        OpenAIEmbedder(base_url=server.url, api_key=KEY, max_retries=2).embed(["dog"])
    assert KEY not in _rendered(info.value)
    assert len(server.requests) == 3


def test_openai_wrong_base_url_path_is_a_config_error(server: EmbeddingsServer) -> None:
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        OpenAIEmbedder(base_url=server.url.removesuffix("/v1") + "/wrong", api_key=KEY).embed(["dog"])


def test_openai_key_and_base_url_from_env(server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    embedder = make_embedder("openai:text-embedding-3-small", cache_dir=None)
    embedder.embed(["dog"])
    assert server.requests[0]["authorization"] == f"Bearer {KEY}"
    assert server.requests[0]["body"]["model"] == "text-embedding-3-small"
    assert embedder.name == f"openai:text-embedding-3-small@{server.url}"


def test_openai_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        OpenAIEmbedder()


def test_openai_name_for_the_official_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert OpenAIEmbedder(api_key=KEY).name == "openai:text-embedding-3-large"
    assert OpenAIEmbedder(api_key=KEY, base_url="https://api.openai.com/v1/").name == "openai:text-embedding-3-large"


# --- registry --------------------------------------------------------------------------


def test_registry_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert isinstance(make_embedder("minilm", None), MiniLMEmbedder)
    assert make_embedder(" MiniLM ", None).name == "minilm:all-MiniLM-L6-v2"
    assert make_embedder("openai", None).name == "openai:text-embedding-3-large"
    cached = make_embedder("openai:text-embedding-3-small", tmp_path)
    assert isinstance(cached, CachedEmbedder)
    assert cached.path == tmp_path / "embeddings.sqlite" and cached.name == "openai:text-embedding-3-small"


@pytest.mark.parametrize("spec", ["bert", "openai:", "minilm:other", ""])
def test_registry_unknown_spec(spec: str) -> None:
    with pytest.raises(ConfigError, match="known: minilm, openai, openai:<model>"):
        make_embedder(spec, None)
