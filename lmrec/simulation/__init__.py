"""Simulation and off-policy evaluation: impression logs and estimators of a policy's value from them."""

from lmrec.simulation.logs import ImpressionLog, context_free_policy, read_open_bandit
from lmrec.simulation.ope import (
    DR,
    IPS,
    SNIPS,
    DRConfig,
    Estimate,
    Estimator,
    OPEConfig,
    SwitchDR,
    SwitchDRConfig,
    estimate_all,
)
from lmrec.simulation.reward_model import ItemPositionMean, RewardModelConfig

__all__ = [
    "DR",
    "IPS",
    "SNIPS",
    "DRConfig",
    "Estimate",
    "Estimator",
    "ImpressionLog",
    "ItemPositionMean",
    "OPEConfig",
    "RewardModelConfig",
    "SwitchDR",
    "SwitchDRConfig",
    "context_free_policy",
    "estimate_all",
    "read_open_bandit",
]

# The simulator with known truth (worlds, the recommender under test, the loop and its report).
from lmrec.simulation.agents import Agent, AgentConfig, HybridHead
from lmrec.simulation.report import compare_with, plot_simulation, policy_metrics, simulation_report
from lmrec.simulation.simulator import (
    SimulationConfig,
    SimulationResult,
    compare_policies,
    simulate,
)
from lmrec.simulation.worlds import (
    SemiSyntheticConfig,
    SemiSyntheticWorld,
    ShopWorld,
    ShopWorldConfig,
    World,
    WorldConfig,
)

__all__ += [
    "Agent",
    "AgentConfig",
    "HybridHead",
    "SemiSyntheticConfig",
    "SemiSyntheticWorld",
    "ShopWorld",
    "ShopWorldConfig",
    "SimulationConfig",
    "SimulationResult",
    "World",
    "WorldConfig",
    "compare_policies",
    "compare_with",
    "plot_simulation",
    "policy_metrics",
    "simulate",
    "simulation_report",
]
