"""Simulation and off-policy evaluation: impression logs and estimators of a policy's value from them."""

from lmrec.simulation.logs import ImpressionLog, context_free_policy, read_open_bandit
from lmrec.simulation.ope import (
    DR,
    IPS,
    SNIPS,
    DRConfig,
    Estimate,
    Estimator,
    ItemPositionMean,
    OPEConfig,
    RewardModelConfig,
    SwitchDR,
    SwitchDRConfig,
    estimate_all,
)

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
