"""lmrec: a recommendation engine that reads items with a language model."""

from __future__ import annotations

__version__ = "0.1.0"
