"""Every registered model keeps the shared contract (`lmrec.testing.contract.ModelContract`)."""

from __future__ import annotations

from typing import Any, ClassVar

from lmrec.models import model_names
from lmrec.testing.contract import ModelContract


class TestPopularity(ModelContract):
    model_name = "popularity"
    learns_tastes = False


class TestTrendingPopularity(ModelContract):
    model_name = "popularity"
    config: ClassVar[dict[str, Any]] = {"half_life_days": 1.0, "weighted": True}
    learns_tastes = False


class TestItemKNN(ModelContract):
    model_name = "itemknn"
    config: ClassVar[dict[str, Any]] = {"neighbors": 5}


class TestItemKNNJaccard(ModelContract):
    model_name = "itemknn"
    config: ClassVar[dict[str, Any]] = {
        "neighbors": 50,
        "similarity": "jaccard",
        "shrink": 2.0,
        "normalize_scores": True,
    }


class TestEASE(ModelContract):
    model_name = "ease"
    config: ClassVar[dict[str, Any]] = {"l2": 10.0}


class TestALS(ModelContract):
    model_name = "als"
    config: ClassVar[dict[str, Any]] = {"factors": 8, "iterations": 15, "regularization": 5.0}


class TestBPR(ModelContract):
    model_name = "bpr"
    config: ClassVar[dict[str, Any]] = {"factors": 8, "iterations": 200, "learning_rate": 0.05}


class TestContent(ModelContract):
    model_name = "content"


_SMALL_SASREC: dict[str, Any] = {"dim": 16, "epochs": 40, "eval_every": 5, "patience": 3, "max_len": 10}


class TestSASRecFused(ModelContract):
    model_name = "sasrec"
    config: ClassVar[dict[str, Any]] = {**_SMALL_SASREC, "learning_rate": 0.005}


class TestSASRecIdSampled(ModelContract):
    model_name = "sasrec"
    config: ClassVar[dict[str, Any]] = {
        **_SMALL_SASREC,
        "item_parts": ["id"],
        "learning_rate": 0.01,
        "dropout": 0.1,
        "loss": "sampled",
        "negatives": 5,
    }


def test_every_registered_model_has_a_contract_test() -> None:
    covered = {
        cls.model_name
        for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, ModelContract) and cls is not ModelContract
    }
    assert covered == set(model_names())
