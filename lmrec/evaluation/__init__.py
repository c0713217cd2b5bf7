"""Offline evaluation: full-ranking metrics, the protocol runner, bootstrap statistics, reports."""

from __future__ import annotations

from lmrec.evaluation.protocol import EvaluationConfig, EvaluationResult, PairedComparison, compare, evaluate

__all__ = ["EvaluationConfig", "EvaluationResult", "PairedComparison", "compare", "evaluate"]
