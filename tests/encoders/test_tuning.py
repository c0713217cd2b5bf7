"""Behaviour tuning of the text encoder: the pairs it learns from, and that it learns them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.data.dataset import Histories
from lmrec.diagnostics import DataError
from lmrec.encoders import EncoderConfig, TextEncoder
from lmrec.encoders.text import model_version
from lmrec.encoders.tuning import TuningConfig, cooccurrence_pairs, tune_encoder


def test_cooccurrence_pairs_known_answer() -> None:
    histories = Histories.from_lists([[0, 1, 2, 0], [3, 4], [5]])
    assert cooccurrence_pairs(histories, window=1, max_pairs=100).tolist() == [[0, 1], [0, 2], [1, 2], [3, 4]]
    assert cooccurrence_pairs(histories, window=2, max_pairs=100).tolist() == [[0, 1], [0, 2], [1, 2], [3, 4]]
    wide = cooccurrence_pairs(Histories.from_lists([[0, 1, 2, 3]]), window=3, max_pairs=100)
    assert len(wide) == 6
    sample = cooccurrence_pairs(Histories.from_lists([[0, 1, 2, 3]]), window=3, max_pairs=2, seed=1)
    assert len(sample) == 2 and set(map(tuple, sample.tolist())) <= set(map(tuple, wide.tolist()))


# Pairs a language model does not already know belong together: the shop's customers buy these.
TEXTS = [
    "stainless steel frying pan",
    "yoga mat with carry strap",
    "cast iron skillet",
    "bluetooth headphones",
    "wooden cutting board",
    "trail running shoes",
]
PAIRS = np.array([[0, 1], [2, 3], [4, 5]] * 8)


def test_tuning_pulls_cooccurring_items_together_and_saves_a_loadable_model(tmp_path: Path) -> None:
    before = TextEncoder().encode(TEXTS)
    config = TuningConfig(epochs=6, batch_size=3, learning_rate=3e-3, max_pairs=100, rank=4)
    report = tune_encoder(TEXTS, PAIRS, tmp_path / "tuned", config)
    assert report.steps == 6 * 8 and report.losses[-1] < report.losses[0]
    tuned_config = EncoderConfig(model=report.path)
    after = TextEncoder(tuned_config).encode(TEXTS)

    def similarity(vectors: np.ndarray, a: int, b: int) -> float:
        return float(vectors[a] @ vectors[b])

    for a, b in ((0, 1), (2, 3), (4, 5)):
        assert similarity(after, a, b) > similarity(before, a, b) + 0.05
    folder = Path(report.path)
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pkl"))  # no pickles
    assert model_version(report.path) != model_version(EncoderConfig().model)


def test_bad_pairs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pairs"):
        tune_encoder(TEXTS, np.array([[0, 1]]), tmp_path / "x")
    with pytest.raises(DataError, match="outside"):
        tune_encoder(TEXTS, np.array([[0, 1], [2, 99]]), tmp_path / "x")
