"""The sequential transformer (SASRec family): `network.py` maths, `trainer.py` loop, `model.py` contract."""

from __future__ import annotations

from lmrec.models.sequential.model import SASRec, SASRecConfig

__all__ = ["SASRec", "SASRecConfig"]
