"""Behaviour tuning of the text encoder: the pairs it learns from, and that it learns them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from lmrec.data.dataset import Histories
from lmrec.diagnostics import ConfigError, DataError
from lmrec.encoders import EncoderConfig, TextEncoder
from lmrec.encoders.text import model_version, resolve_model_path
from lmrec.encoders.tuning import TuningConfig, _pair_loss, cooccurrence_pairs, merge_adapter, tune_encoder


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


@pytest.mark.parametrize("bfloat16", [False, True])
def test_tuning_pulls_cooccurring_items_together_and_saves_a_loadable_model(tmp_path: Path, bfloat16: bool) -> None:
    before = TextEncoder().encode(TEXTS)
    config = TuningConfig(epochs=6, batch_size=3, learning_rate=3e-3, max_pairs=100, rank=4, bfloat16=bfloat16)
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


def test_merging_the_adapter_at_a_scale_interpolates_the_weights(tmp_path: Path) -> None:
    """Scale 0 is the base encoder, 1 the tuned one, 0.5 the midpoint of every adapted weight."""
    config = TuningConfig(epochs=2, batch_size=3, learning_rate=3e-3, max_pairs=100, rank=4)
    report = tune_encoder(TEXTS, PAIRS, tmp_path / "tuned", config)
    folders = {s: merge_adapter(Path(report.path) / "adapter", tmp_path / f"at{s}", s) for s in (0.0, 0.5, 1.0)}
    weights = {s: load_file(str(folder / "model.safetensors")) for s, folder in folders.items()}
    base = load_file(str(resolve_model_path(EncoderConfig().model) / "model.safetensors"))
    tuned = load_file(str(Path(report.path) / "model.safetensors"))
    query = next(k for k in base if k.endswith("layer.0.attention.self.query.weight"))
    assert not np.allclose(tuned[query], base[query])  # the tuning moved it
    np.testing.assert_allclose(weights[0.0][query], base[query], atol=1e-6)
    np.testing.assert_allclose(weights[1.0][query], tuned[query], atol=1e-6)
    np.testing.assert_allclose(weights[0.5][query], (base[query] + tuned[query]) / 2, atol=1e-6)
    np.testing.assert_allclose(
        weights[0.5]["embeddings.word_embeddings.weight"], base["embeddings.word_embeddings.weight"]
    )
    with pytest.raises(ConfigError, match="scale"):
        merge_adapter(Path(report.path) / "adapter", tmp_path / "bad", -1.0)


def test_bad_pairs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pairs"):
        tune_encoder(TEXTS, np.array([[0, 1]]), tmp_path / "x")
    with pytest.raises(DataError, match="outside"):
        tune_encoder(TEXTS, np.array([[0, 1], [2, 99]]), tmp_path / "x")


def _reference_loss(
    left: torch.Tensor, right: torch.Tensor, masked: list[tuple[int, int, int]], shift: torch.Tensor
) -> float:
    """Plain symmetric cross-entropy: way 0 rows are lefts against rights, way 1 the transpose;
    `masked` (way, row, column) entries are left out, `shift` (2, B) is subtracted per column."""
    total = 0.0
    for way, scores in enumerate((left @ right.T / 0.05, right @ left.T / 0.05)):
        for i in range(len(scores)):
            row = [float(scores[i, j] - shift[way, j]) for j in range(len(scores)) if (way, i, j) not in masked]
            positive = float(scores[i, i] - shift[way, i])
            total += 0.5 * (math.log(sum(math.exp(v) for v in row)) - positive) / len(scores)
    return total


def test_pair_loss_masks_the_query_item_and_its_partner_among_the_negatives() -> None:
    torch.manual_seed(0)
    left, right = (torch.nn.functional.normalize(torch.randn(3, 8), dim=1) for _ in range(2))
    batch = torch.tensor([[0, 1], [1, 2], [3, 4]])  # item 1 is row 0's partner and row 1's query
    config = TuningConfig(popularity_correction=False)
    value = float(_pair_loss(left, right, batch, config, torch.zeros(5)))
    # way 0: row 1 (query 1) meets right column 0 (item 1, itself); way 1: row 0 (query 1) meets left column 1
    expected = _reference_loss(left, right, [(0, 1, 0), (1, 0, 1)], torch.zeros(2, 3))
    assert value == pytest.approx(expected, rel=1e-5)
    assert value != pytest.approx(_reference_loss(left, right, [], torch.zeros(2, 3)), rel=1e-3)


def test_pair_loss_lowers_each_items_logits_by_its_log_share() -> None:
    torch.manual_seed(1)
    left, right = (torch.nn.functional.normalize(torch.randn(3, 8), dim=1) for _ in range(2))
    batch = torch.tensor([[0, 1], [2, 3], [4, 5]])
    log_share = torch.log(torch.tensor([0.3, 0.1, 0.2, 0.05, 0.25, 0.1]))
    value = float(_pair_loss(left, right, batch, TuningConfig(), log_share))
    shift = torch.stack([log_share[batch[:, 1]], log_share[batch[:, 0]]])  # way 0 candidates are rights
    assert value == pytest.approx(_reference_loss(left, right, [], shift), rel=1e-5)
