"""`json_default`: the values lmrec's objects hold, written as plain JSON."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from lmrec.serialization import json_default


def test_numpy_sets_paths_and_mappings_become_plain_json() -> None:
    value = {
        "scalar": np.float32(0.5),
        "count": np.int64(3),
        "array": np.array([[1, 2], [3, 4]]),
        "ids": frozenset({"b", "a"}),
        "path": Path("models/ease"),
        "frozen": MappingProxyType({"exclude": ("i1", "i2")}),
    }
    assert json.loads(json.dumps(value, default=json_default)) == {
        "scalar": 0.5,
        "count": 3,
        "array": [[1, 2], [3, 4]],
        "ids": ["a", "b"],
        "path": "models/ease",
        "frozen": {"exclude": ["i1", "i2"]},
    }


def test_anything_else_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        json.dumps({"x": object()}, default=json_default)
