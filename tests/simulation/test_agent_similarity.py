"""The agent's `ease` similarity of a new item: the base scores carried onto the item text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.data.schema import validate_events
from lmrec.diagnostics import ConfigError
from lmrec.encoders import embed_texts
from lmrec.models import create_model
from lmrec.simulation.agents import Agent
from lmrec.simulation.worlds import SemiSyntheticWorld
from lmrec.testing.fixtures import taste_of, two_tastes

AGENT = {"item_vectors": "text", "dimension": 4, "user_dimension": 2, "static_candidates": 10, "seed": 0}
RANKER = {"l2": 5.0}


@pytest.fixture(scope="module")
def world() -> SemiSyntheticWorld:
    """Shoe lovers and cooks with a quarter of the items held back; seed 3 holds back both kinds."""
    config = {"horizon": 100, "seed": 3, "truth_config": RANKER, "new_item_share": 0.25, "top_k": 2}
    return SemiSyntheticWorld.build(two_tastes(), config)


@pytest.fixture(scope="module")
def agent(world: SemiSyntheticWorld) -> Agent:
    return Agent({**AGENT, "ranker_config": RANKER, "new_item_similarity": "ease"}).fit(world)


def test_similarity_is_the_ridge_of_the_base_scores_onto_the_text(world: SemiSyntheticWorld, agent: Agent) -> None:
    history = world.history
    text = np.asarray(embed_texts(history.item_text(), agent.config.encoder), dtype=np.float64)  # (I, e)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    known = history.item_counts() > 0
    ranker = create_model("ease", RANKER).fit(history)
    new = np.flatnonzero(~known)
    for user, row in enumerate(world.user_rows):
        scores = ranker.score_histories(history.histories(np.array([row])))[0].astype(np.float64)  # (I,)
        scores[history.matrix(binary=True)[row].indices] = 0.0  # seen
        scores[~known] = 0.0
        profile = np.linalg.solve(
            text[known].T @ text[known] + agent.config.similarity_ridge * np.eye(text.shape[1]),
            text[known].T @ scores[known],
        )
        expected = (profile / np.linalg.norm(profile)) @ text[new].T  # (P,)
        features = agent.features(np.array([user]), new[None, :], np.zeros((1, len(new))))[0]  # (P, d)
        np.testing.assert_allclose(features[:, 3], expected, rtol=1e-4, atol=1e-5)  # new · sim


def test_each_taste_finds_its_own_new_items(world: SemiSyntheticWorld, agent: Agent) -> None:
    items = world.history.items.ids
    new = np.flatnonzero(world.history.item_counts() == 0)
    kinds = np.array([taste_of(items[i]) for i in new])
    assert set(kinds) == {"shoe", "kitchen"}  # the seed holds back both kinds
    users = world.history.users.ids[world.user_rows]
    sim = agent.similarity_profiles @ agent.similarity_vectors[new].T  # (U, P)
    for user, row in zip(users, sim, strict=True):
        mine = kinds == taste_of(user)
        assert row[mine].min() > row[~mine].max(), user


def test_similarity_without_item_text_is_refused() -> None:
    events = pd.DataFrame(
        {Columns.User: ["a", "a", "b", "b", "c"], Columns.Item: ["x", "y", "y", "z", "x"], Columns.Timestamp: range(5)}
    )
    world = SemiSyntheticWorld.build(
        Dataset.from_frames(validate_events(events).valid),
        {"horizon": 10, "truth_config": {"l2": 1.0}, "new_item_share": 0.0, "top_k": 1},
    )
    agent = Agent({"item_vectors": "interactions", "user_dimension": 1, "new_item_similarity": "ease"})
    with pytest.raises(ConfigError, match="reads item text"):
        agent.fit(world)
