"""Every registered exploration policy keeps the shared contract (`lmrec.testing.policy_contract`)."""

from __future__ import annotations

from typing import Any, ClassVar

from lmrec.pipeline.explore import POLICIES
from lmrec.testing.policy_contract import PolicyContract


class TestGreedy(PolicyContract):
    policy_name = "greedy"


class TestEpsilonGreedy(PolicyContract):
    policy_name = "epsilon"
    config: ClassVar[dict[str, Any]] = {"epsilon": 0.3}


class TestSoftmax(PolicyContract):
    policy_name = "softmax"
    config: ClassVar[dict[str, Any]] = {"temperature": 0.5}


class TestSoftmaxPool(PolicyContract):
    policy_name = "softmax"
    config: ClassVar[dict[str, Any]] = {"temperature": 2.0, "pool": 4, "seed": 3}


class TestThompson(PolicyContract):
    policy_name = "thompson"


class TestUCB(PolicyContract):
    policy_name = "ucb"
    config: ClassVar[dict[str, Any]] = {"beta": 2.0}


class TestColdBudget(PolicyContract):
    policy_name = "cold_budget"
    config: ClassVar[dict[str, Any]] = {"rate": 0.5, "slots": [0, 2], "budget": 1}


class TestColdBudgetOverThompson(PolicyContract):
    policy_name = "cold_budget"
    config: ClassVar[dict[str, Any]] = {
        "inner": "thompson",
        "inner_config": {"scale": 2.0},
        "budget": 2,
        "slots": [1, 2, 4],
        "rate": 0.7,
    }


class TestColdBudgetUCBPick(PolicyContract):
    policy_name = "cold_budget"
    config: ClassVar[dict[str, Any]] = {
        "inner": "epsilon",
        "inner_config": {"epsilon": 0.3},
        "budget": 2,
        "slots": [0, 2, 3],
        "rate": 0.6,
        "pick": "ucb",
        "pick_beta": 1.0,
    }


class TestColdBudgetReach(PolicyContract):
    policy_name = "cold_budget"
    config: ClassVar[dict[str, Any]] = {
        "inner": "softmax",
        "inner_config": {"temperature": 1.0},
        "budget": 2,
        "slots": [1, 3],
        "rate": 0.8,
        "pick": "ucb",
        "pick_beta": 0.5,
        "reach": 2,
    }


def test_every_registered_policy_has_a_contract_test() -> None:
    tested = {cls.policy_name for cls in PolicyContract.__subclasses__()}
    assert tested == set(POLICIES)
