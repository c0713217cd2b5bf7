"""The embedding cache: hits skip the model, changes and other versions miss, damage is rebuilt."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from lmrec.encoders.cache import FILE_NAME, EmbeddingCache, default_cache_dir, embed_texts
from lmrec.encoders.text import EncoderConfig, TextEncoder

CATALOGUE = [
    "red running shoes",
    "blue trail running sneakers",
    "stainless steel frying pan",
    "non-stick cooking pot",
    "wireless noise-cancelling headphones",
]


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed; optionally posing as another
    model version."""

    def __init__(self, inner: TextEncoder, version: str | None = None) -> None:
        self.inner = inner
        self._version = version
        self.calls: list[list[str]] = []

    @property
    def version(self) -> str:
        return self._version or self.inner.version

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts)

    @property
    def n_texts(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture()
def counting(text_encoder: TextEncoder) -> CountingEncoder:
    return CountingEncoder(text_encoder)


def test_second_encode_does_not_call_the_model(tmp_path: Path, counting: CountingEncoder) -> None:
    cache = EmbeddingCache(tmp_path)
    first = cache.encode(counting, CATALOGUE)
    assert counting.calls == [CATALOGUE]
    second = cache.encode(counting, CATALOGUE)
    assert len(counting.calls) == 1
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (5, 384)
    np.testing.assert_allclose(first, counting.inner.encode(CATALOGUE), atol=1e-6)
    assert cache.count() == 5


def test_cache_survives_a_new_cache_object(tmp_path: Path, counting: CountingEncoder) -> None:
    EmbeddingCache(tmp_path).encode(counting, CATALOGUE)
    EmbeddingCache(tmp_path).encode(counting, list(reversed(CATALOGUE)))
    assert counting.n_texts == len(CATALOGUE)


def test_only_changed_text_is_re_embedded(tmp_path: Path, counting: CountingEncoder) -> None:
    cache = EmbeddingCache(tmp_path)
    before = cache.encode(counting, CATALOGUE)
    changed = [*CATALOGUE[:2], "cast iron frying pan", *CATALOGUE[3:]]
    after = cache.encode(counting, changed)
    assert counting.calls[1] == ["cast iron frying pan"]
    np.testing.assert_array_equal(np.delete(after, 2, axis=0), np.delete(before, 2, axis=0))
    assert not np.allclose(after[2], before[2])


def test_duplicate_texts_are_embedded_once(tmp_path: Path, counting: CountingEncoder) -> None:
    vectors = EmbeddingCache(tmp_path).encode(counting, ["pan", "pot", "pan", "pan"])
    assert counting.calls == [["pan", "pot"]]
    np.testing.assert_array_equal(vectors[0], vectors[2])


def test_other_model_version_does_not_collide(tmp_path: Path, text_encoder: TextEncoder) -> None:
    cache = EmbeddingCache(tmp_path)
    original = CountingEncoder(text_encoder)
    tuned = CountingEncoder(text_encoder, version="my-finetuned-minilm@0123456789abcdef")
    cache.encode(original, CATALOGUE)
    cache.encode(tuned, CATALOGUE)
    assert tuned.calls == [CATALOGUE]
    assert cache.versions() == {original.version: 5, tuned.version: 5}
    assert cache.drop(tuned.version) == 5
    assert cache.versions() == {original.version: 5}


def test_a_file_of_garbage_is_detected_and_rebuilt(
    tmp_path: Path, counting: CountingEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    cache = EmbeddingCache(tmp_path)
    expected = cache.encode(counting, CATALOGUE)
    (tmp_path / FILE_NAME).write_bytes(b"this is not an sqlite file at all " * 200)
    with caplog.at_level(logging.WARNING, logger="lmrec.encoders.cache"):
        again = cache.encode(counting, CATALOGUE)
    assert "damaged" in caplog.text and "rebuilding" in caplog.text
    assert len(counting.calls) == 2  # everything re-embedded ...
    np.testing.assert_allclose(again, expected, atol=1e-6)
    assert cache.count() == 5  # ... and kept in the rebuilt file
    cache.encode(counting, CATALOGUE)
    assert len(counting.calls) == 2


def test_damaged_vectors_are_detected_by_checksum(
    tmp_path: Path, counting: CountingEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    cache = EmbeddingCache(tmp_path)
    expected = cache.encode(counting, CATALOGUE)
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:  # flip bits inside two stored vectors
        rows = conn.execute("SELECT version, text_hash, vector FROM embeddings LIMIT 2").fetchall()
        for version, key, blob in rows:
            damaged = bytearray(blob)
            damaged[40] ^= 0xFF
            conn.execute(
                "UPDATE embeddings SET vector = ? WHERE version = ? AND text_hash = ?", (bytes(damaged), version, key)
            )
    with caplog.at_level(logging.WARNING, logger="lmrec.encoders.cache"):
        again = cache.encode(counting, CATALOGUE)
    assert "2 damaged vectors" in caplog.text
    assert len(counting.calls[1]) == 2
    np.testing.assert_allclose(again, expected, atol=1e-6)


def test_a_foreign_database_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        conn.execute("CREATE TABLE something_else (x INTEGER)")
    cache = EmbeddingCache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lmrec.encoders.cache"):
        cache.store("v@1", ["a"], np.ones((1, 3), dtype=np.float32))
    assert "not an lmrec embedding cache" in caplog.text
    np.testing.assert_array_equal(cache.lookup("v@1", ["a", "b"])[0], np.ones(3, dtype=np.float32))
    assert cache.lookup("v@1", ["b"]) == [None]


def _write_many(folder: str, worker: int) -> int:
    """One writer process: 40 small transactions, half of its keys shared with the other worker."""
    cache = EmbeddingCache(folder, timeout=30)
    for step in range(40):
        texts = [f"shared {step}", f"own {worker} {step}"]
        vectors = np.array([[step, 0, 0], [step, worker, 1]], dtype=np.float32)
        cache.store("v@1", texts, vectors)
    return cache.count("v@1")


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        counts = list(pool.map(_write_many, [str(tmp_path)] * 2, [1, 2]))
    assert max(counts) == 120
    cache = EmbeddingCache(tmp_path)
    assert cache.count() == 120
    found = cache.lookup("v@1", [f"own 2 {s}" for s in range(40)])
    np.testing.assert_array_equal(np.stack(found), [[s, 2, 1] for s in range(40)])  # type: ignore[arg-type]


def test_store_checks_shapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected 2 vectors"):
        EmbeddingCache(tmp_path).store("v@1", ["a", "b"], np.ones((3, 4), dtype=np.float32))


def test_lookup_of_an_absent_cache_creates_nothing(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "not-yet")
    assert cache.lookup("v@1", ["a"]) == [None]
    assert cache.count() == 0 and cache.versions() == {}
    assert not (tmp_path / "not-yet").exists()


def test_default_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "embeddings"
    assert EmbeddingCache().folder == tmp_path / "embeddings"
    monkeypatch.delenv("LMREC_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "lmrec" / "embeddings"


def test_embed_texts_uses_the_configured_cache(tmp_path: Path, counting: CountingEncoder) -> None:
    config = EncoderConfig(cache_dir=str(tmp_path / "c"))
    first = embed_texts(CATALOGUE, config, encoder=counting)
    second = embed_texts(CATALOGUE, config, encoder=counting)
    assert counting.n_texts == 5
    np.testing.assert_array_equal(first, second)
    off = EncoderConfig(cache=False, cache_dir=str(tmp_path / "off"))
    embed_texts(CATALOGUE, off, encoder=counting)
    assert counting.n_texts == 10
    assert not (tmp_path / "off").exists()


def test_an_unusable_folder_only_costs_the_cache(
    tmp_path: Path, counting: CountingEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file-not-a-folder"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="lmrec.encoders.cache"):
        vectors = EmbeddingCache(blocker).encode(counting, CATALOGUE[:2])
    assert "cannot be written" in caplog.text
    np.testing.assert_allclose(vectors, counting.inner.encode(CATALOGUE[:2]), atol=1e-6)
