"""Helpers shipped with the package for lmrec's own tests and for users testing their extensions."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """Folder of the team's real benchmark datasets: `$LMREC_SHARED_DATA`, else `../shared/data`
    beside the project root. It may not exist; callers skip with a reason then."""
    env = os.environ.get("LMREC_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"
