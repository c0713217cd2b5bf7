"""JSON for the values lmrec's own objects hold: `dumps(value)`, or `json.dumps(value,
default=json_default)` where a missing number cannot occur."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def json_default(value: Any) -> Any:
    """What `json` does not write itself: numpy scalars and arrays, sets, paths, read-only mappings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, **options: Any) -> str:
    """Strict JSON of `value`: what `json_default` handles, and a missing or infinite number (a
    metric over no users, an interval from one sample) written as null, since `NaN` and `Infinity`
    are not JSON and strict readers (browsers, jq) refuse them. `options` go to `json.dumps`."""
    return json.dumps(json_ready(value), default=json_default, allow_nan=False, **options)


def json_ready(value: Any) -> Any:
    """`value` with every numpy scalar or array made plain and every non-finite float, at any
    depth, replaced by None (JSON's null)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
