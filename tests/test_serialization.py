"""`json_default` and `dumps`: the values lmrec's objects hold, written as plain, strict JSON."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from lmrec.serialization import dumps, json_default


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


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_missing_and_infinite_numbers_are_written_as_null() -> None:
    value = {
        "metric": float("nan"),
        "interval": (np.float64(np.nan), 0.25),
        "array": np.array([1.0, np.inf]),
        "nested": [{"low": -np.inf, "count": np.int64(2)}],
    }
    written = dumps(value)
    assert json.loads(written, parse_constant=_refuse) == {
        "metric": None,
        "interval": [None, 0.25],
        "array": [1.0, None],
        "nested": [{"low": None, "count": 2}],
    }
    assert json.loads(dumps({"path": Path("a"), "ids": {"b", "a"}})) == {"path": "a", "ids": ["a", "b"]}
