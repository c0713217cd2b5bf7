"""External ids <-> contiguous integer positions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


class Vocabulary:
    """An immutable, ordered set of external ids, each with a position 0..n-1.

    Positions follow the order the ids were given in, so a vocabulary built from the same ids
    is the same vocabulary. Unknown ids map to -1 (`index`) rather than raising, so one unknown
    id never breaks a batch.
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[str]) -> None:
        array = np.asarray([str(i) for i in ids], dtype=object)
        index = pd.Index(array)
        if not index.is_unique:
            dupes = index[index.duplicated()].unique()[:5].tolist()
            raise ValueError(f"vocabulary ids must be unique; repeated: {dupes}")
        self._ids = array
        self._index = index

    @classmethod
    def from_values(cls, *columns: Iterable[str]) -> Vocabulary:
        """Ids in order of first appearance across the given columns."""
        seen = pd.unique(np.concatenate([np.asarray(list(c), dtype=object).astype(str) for c in columns]))
        return cls(seen)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and np.array_equal(self._ids, other._ids)

    def __hash__(self) -> int:
        return hash(tuple(self._ids[:16])) ^ len(self)

    def __repr__(self) -> str:
        head = ", ".join(self._ids[:3].tolist())
        return f"Vocabulary({len(self)} ids: {head}{', ...' if len(self) > 3 else ''})"

    @property
    def ids(self) -> np.ndarray:
        """The ids as an object array, position i holding id i (read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def index(self, ids: str | Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        """Positions of `ids`; -1 for an unknown id."""
        values = [ids] if isinstance(ids, str) else ids
        return np.asarray(
            self._index.get_indexer(pd.Index(np.asarray(values, dtype=object).astype(str))), dtype=np.int64
        )

    def id(self, positions: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """Ids at `positions` (all must be valid)."""
        return self._ids[np.asarray(positions, dtype=np.int64)]

    def to_list(self) -> list[str]:
        """The ids as a plain list, for JSON artifacts."""
        return self._ids.tolist()
