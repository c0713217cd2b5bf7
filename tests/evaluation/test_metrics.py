"""Metrics: hand-computed cases, a plain reference implementation, and Hypothesis properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lmrec.data.columns import Columns
from lmrec.data.dataset import Histories
from lmrec.evaluation import metrics as m
from lmrec.evaluation.stats import bootstrap_intervals, paired_difference, sign_flip_p_value
from lmrec.itemlist import top_k_positions

# ---------------------------------------------------------------------------------------------
# the reference: Python loops and a full sort, following the documented rank rule


def reference_ranks(scores: np.ndarray, exclude: list[list[int]], targets: list[list[int]], ties: str) -> list[dict]:
    """For each row: {target item: 1-based rank} from a full sort by
    (score desc with NaN/excluded as -inf, non-targets first among ties if pessimistic, position)."""
    out = []
    for row, (excluded, wanted) in enumerate(zip(exclude, targets, strict=True)):
        values = []
        for item in range(scores.shape[1]):
            value = float(scores[row, item])
            if math.isnan(value) or item in excluded:
                value = -math.inf
            values.append(value)
        # among equal scores the smaller key sorts first: non-targets first when pessimistic
        keys = []
        for item in range(len(values)):
            target_last = 1 if item in wanted else 0
            tie_key = target_last if ties == "pessimistic" else 1 - target_last
            keys.append((-values[item], tie_key, item))
        order = [key[2] for key in sorted(keys)]
        out.append({item: order.index(item) + 1 for item in wanted})
    return out


def reference_metrics(ranks: dict[int, int], k: int) -> dict[str, float]:
    hits = [r for r in ranks.values() if r <= k]
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(ranks), k)))
    return {
        "HR": 1.0 if hits else 0.0,
        "Recall": len(hits) / len(ranks),
        "NDCG": sum(1 / math.log2(r + 1) for r in hits) / ideal,
        "MRR": 1 / min(ranks.values()),
    }


def fast(scores: np.ndarray, exclude: list[list[int]], targets: list[list[int]], ks: tuple[int, ...], ties: str):
    masked = m.mask_scores(scores, Histories.from_lists(exclude))
    rows = np.concatenate([[b] * len(t) for b, t in enumerate(targets)]).astype(np.int64)
    items = np.concatenate([t for t in targets]).astype(np.int64)
    ranks = m.target_ranks(masked, rows, items, ties=ties)  # type: ignore[arg-type]
    return ranks, rows, items, m.ranking_metrics(ranks, rows, len(targets), ks)


# ---------------------------------------------------------------------------------------------
# hand-computed cases


def one_target(scores: list[float], target: int, ks: tuple[int, ...] = (1, 2, 5)) -> dict[str, np.ndarray]:
    _, _, _, metrics = fast(np.array([scores], dtype=np.float32), [[]], [[target]], ks, "pessimistic")
    return metrics


def test_target_at_rank_one() -> None:
    got = one_target([0.9, 0.1, 0.5, 0.3], target=0)
    assert got["NDCG@1"][0] == 1.0 and got["HR@1"][0] == 1.0 and got["MRR"][0] == 1.0


def test_target_at_rank_three() -> None:
    got = one_target([0.9, 0.1, 0.5, 0.3, 0.2], target=3)
    assert got["HR@2"][0] == 0.0 and got["NDCG@2"][0] == 0.0
    assert got["HR@5"][0] == 1.0 and got["Recall@5"][0] == 1.0
    assert got["NDCG@5"][0] == pytest.approx(1 / math.log2(4)) == pytest.approx(0.5)
    assert got["MRR"][0] == pytest.approx(1 / 3)


def test_two_targets_ideal_dcg() -> None:
    # targets at ranks 2 and 4 of 6; ideal DCG@5 = 1 + 1/log2(3)
    scores = np.array([[6, 5, 4, 3, 2, 1]], dtype=np.float32)
    ranks, _, _, got = fast(scores, [[]], [[1, 3]], (1, 3, 5), "pessimistic")
    assert ranks.tolist() == [2, 4]
    assert got["NDCG@5"][0] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert got["Recall@3"][0] == 0.5 and got["HR@1"][0] == 0.0 and got["MRR"][0] == 0.5
    assert got["NDCG@1"][0] == 0.0


def test_exclusion_lifts_the_target() -> None:
    scores = np.array([[0.9, 0.8, 0.1]], dtype=np.float32)
    ranks, *_ = fast(scores, [[0, 1]], [[2]], (1,), "pessimistic")
    assert ranks.tolist() == [1]


def test_ties_and_nan() -> None:
    constant = np.zeros((1, 5), dtype=np.float32)
    assert fast(constant, [[]], [[2]], (1,), "pessimistic")[0].tolist() == [5]  # no credit for ties
    assert fast(constant, [[]], [[2]], (1,), "optimistic")[0].tolist() == [1]
    assert fast(constant, [[]], [[1, 3]], (1,), "pessimistic")[0].tolist() == [4, 5]  # targets by position
    broken = np.full((1, 4), np.nan, dtype=np.float32)
    broken[0, 0] = 0.0
    assert fast(broken, [[]], [[3]], (1,), "pessimistic")[0].tolist() == [4]  # NaN ranks last
    assert fast(broken, [[]], [[0]], (1,), "pessimistic")[0].tolist() == [1]  # NaN never above a score
    assert fast(np.array([[1.0, 2.0]], dtype=np.float32), [[1]], [[1]], (1,), "optimistic")[0].tolist() == [2]


def test_bad_tie_rule() -> None:
    with pytest.raises(ValueError, match="ties"):
        m.target_ranks(np.zeros((1, 2), dtype=np.float32), np.array([0]), np.array([0]), ties="random")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# fast path == reference on random data (ties, NaN, exclusions, several targets)


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
@pytest.mark.parametrize("seed", range(4))
def test_vectorised_equals_reference(seed: int, ties: str) -> None:
    rng = np.random.default_rng(seed)
    n_rows, n_items = 12, 40
    scores = rng.integers(0, 6, size=(n_rows, n_items)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.1] = np.nan
    exclude = [rng.choice(n_items, size=rng.integers(0, 8), replace=False).tolist() for _ in range(n_rows)]
    targets = [rng.choice(n_items, size=rng.integers(1, 5), replace=False).tolist() for _ in range(n_rows)]
    ks = (1, 5, 10)
    ranks, rows, items, got = fast(scores, exclude, targets, ks, ties)
    expected = reference_ranks(scores, exclude, targets, ties)
    for r, row, item in zip(ranks, rows, items, strict=True):
        assert r == expected[row][item]
    for row in range(n_rows):
        for k in ks:
            want = reference_metrics(expected[row], k)
            for name in ("HR", "Recall", "NDCG"):
                assert got[f"{name}@{k}"][row] == pytest.approx(want[name])
        assert got["MRR"][row] == pytest.approx(reference_metrics(expected[row], 1)["MRR"])


@pytest.mark.parametrize("seed", range(4))
def test_top_k_lists_equal_top_k_positions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(30, 25)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.2] = np.nan
    exclude = [rng.choice(25, size=rng.integers(0, 24), replace=False).tolist() for _ in range(30)]
    masked = m.mask_scores(scores, Histories.from_lists(exclude))
    for k in (1, 3, 10, 30):
        lists = m.top_k_lists(masked, k)
        for row in range(30):
            expected = top_k_positions(scores[row], k, exclude=np.array(exclude[row], dtype=np.int64))
            assert lists[row][lists[row] >= 0].tolist() == expected.tolist()
            assert (lists[row][len(expected) :] == -1).all()


# ---------------------------------------------------------------------------------------------
# properties


@st.composite
def scored_rows(draw: st.DrawFn) -> tuple[np.ndarray, list[list[int]]]:
    n_rows = draw(st.integers(1, 5))
    n_items = draw(st.integers(2, 15))
    values = hnp.arrays(np.float32, (n_rows, n_items), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, np.nan]))
    scores = draw(values)
    targets = [
        sorted(draw(st.sets(st.integers(0, n_items - 1), min_size=1, max_size=min(4, n_items)))) for _ in range(n_rows)
    ]
    return scores, targets


@given(scored_rows(), st.sampled_from(["pessimistic", "optimistic"]))
def test_metric_properties(case: tuple[np.ndarray, list[list[int]]], ties: str) -> None:
    scores, targets = case
    ks = (1, 2, 3, 5, 20)
    ranks, _, _, got = fast(scores, [[] for _ in targets], targets, ks, ties)
    assert ((ranks >= 1) & (ranks <= scores.shape[1])).all()
    for k in ks:
        for name in ("HR", "Recall", "NDCG"):
            assert ((got[f"{name}@{k}"] >= 0) & (got[f"{name}@{k}"] <= 1 + 1e-12)).all()
        assert (got[f"HR@{k}"] >= got[f"NDCG@{k}"] - 1e-12).all()
        assert (got[f"HR@{k}"] >= got[f"Recall@{k}"]).all()
    for small, large in itertools.pairwise(ks):
        assert (got[f"Recall@{small}"] <= got[f"Recall@{large}"]).all()
        assert (got[f"HR@{small}"] <= got[f"HR@{large}"]).all()
    assert ((got["MRR"] > 0) & (got["MRR"] <= 1)).all()
    # the first-ranked target decides HR@1 and MRR == 1
    assert np.array_equal(got["HR@1"] == 1, got["MRR"] == 1)


@given(scored_rows())
def test_optimistic_never_below_pessimistic(case: tuple[np.ndarray, list[list[int]]]) -> None:
    scores, targets = case
    empty = [[] for _ in targets]
    pessimistic = fast(scores, empty, targets, (5,), "pessimistic")[0]
    optimistic = fast(scores, empty, targets, (5,), "optimistic")[0]
    assert (optimistic <= pessimistic).all()


# ---------------------------------------------------------------------------------------------
# list metrics


def test_coverage_and_gini_known_answers() -> None:
    lists = np.array([[0, 1], [2, 3], [-1, -1]])
    assert m.coverage(lists, 8) == 0.5
    assert m.gini(np.array([[0, 1], [2, 3]]), 4) == pytest.approx(0.0)  # equal exposure
    assert m.gini(np.array([[0], [0], [0]]), 4) == pytest.approx(0.75)  # all on one of 4 items: 1 - 1/4
    # counts (0, 1, 3): sum_i (2i - n - 1) x_(i) / (n * total) = (-2*0 + 0*1 + 2*3) / (3 * 4)
    assert m.gini(np.array([[1, 2], [2, 2]]), 3) == pytest.approx(0.5)


def test_novelty_and_mean_popularity() -> None:
    counts = np.array([6, 2, 0, 0])
    information = m.self_information(counts)
    assert information.tolist() == pytest.approx([-math.log2(6 / 8), 2.0, 3.0, 3.0])  # unseen counts as one
    lists = np.array([[0, 1], [2, -1], [-1, -1]])
    novelty = m.list_means(lists, information)
    assert novelty[0] == pytest.approx((-math.log2(0.75) + 2) / 2) and novelty[1] == 3.0 and np.isnan(novelty[2])
    assert m.list_means(lists, counts.astype(float))[:2].tolist() == [4.0, 0.0]


def test_ild_cosine_known_answers() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 0.0]])
    lists = np.array([[0, 1, -1], [0, 2, -1], [0, 1, 2], [0, -1, -1], [0, 3, -1]])
    ild = m.intra_list_diversity(lists, vectors=vectors)
    assert ild[:3].tolist() == pytest.approx([1.0, 0.0, 2 / 3])
    assert np.isnan(ild[3])
    assert ild[4] == pytest.approx(1.0)  # a zero vector has cosine 0 with everything


def test_ild_jaccard_from_item_table() -> None:
    table = pd.DataFrame(
        {
            Columns.Category: ["shoes", "shoes", "", ""],
            Columns.Tags: ['["red", "sale"]', '["red"]', "[]", "blue|green"],
        }
    )
    features = m.item_features(table)
    assert features is not None and features.shape == (4, 5)
    lists = np.array([[0, 1], [0, 2], [2, 2], [0, 3]])
    ild = m.intra_list_diversity(lists, features=features)
    # {shoes, red, sale} vs {shoes, red}: 1 - 2/3; vs {}: 1; {} vs {}: 0; disjoint: 1
    assert ild.tolist() == pytest.approx([1 / 3, 1.0, 0.0, 1.0])
    empty = pd.DataFrame({Columns.Category: ["", ""], Columns.Tags: ["[]", "[]"]})
    assert m.item_features(empty) is None
    with pytest.raises(ValueError, match="exactly one"):
        m.intra_list_diversity(lists, vectors=np.eye(4), features=sp.csr_matrix(np.eye(4)))


# ---------------------------------------------------------------------------------------------
# bootstrap and the paired test


def test_bootstrap_matches_normal_theory() -> None:
    rng = np.random.default_rng(0)
    values = (rng.random(4000) < 0.3).astype(float)
    ((low, high),) = bootstrap_intervals(values, n_bootstrap=2000, seed=1)
    half = 1.96 * values.std() / math.sqrt(len(values))
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)
    again = bootstrap_intervals(values, n_bootstrap=2000, seed=1)
    assert again[0].tolist() == [low, high]


def test_bootstrap_skips_nan() -> None:
    values = np.array([[1.0, np.nan], [1.0, 2.0], [1.0, 2.0]])
    bounds = bootstrap_intervals(values, n_bootstrap=200)
    assert bounds[0].tolist() == [1.0, 1.0] and bounds[1].tolist() == [2.0, 2.0]
    assert np.isnan(bootstrap_intervals(np.array([np.nan, np.nan]), n_bootstrap=50)).all()


def test_paired_difference() -> None:
    rng = np.random.default_rng(2)
    a = rng.random(500)
    same = paired_difference(a, a, n_bootstrap=500)
    assert same[0] == 0.0 and same[1] == (0.0, 0.0) and same[2] == 1.0
    better = a + 0.05 + 0.01 * rng.standard_normal(500)
    diff, (low, high), p = paired_difference(better, a, n_bootstrap=500, seed=3)
    assert diff == pytest.approx(0.05, abs=0.002) and low < diff < high
    assert p == pytest.approx(1 / 501)
    noise = rng.standard_normal(500)
    assert sign_flip_p_value(noise - noise.mean(), n_permutations=500) > 0.5
