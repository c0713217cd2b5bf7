"""The model contract every recommender follows.

A model has one config (a pydantic model), is constructed without doing work, learns in `fit`,
scores a batch of user histories against the whole catalogue in `score_histories`, and saves as
`config.json` plus `state.npz` (never pickle). The base class owns the parts every model shares —
vocabularies, training histories, fitted checks, top-k with exclusions, explanations by occlusion,
save/load — so a model only writes `_fit`, `_score`, `_state` and `_set_state`.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

from lmrec import __version__
from lmrec.configs import validated_config
from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.vocabulary import Vocabulary
from lmrec.diagnostics import ConfigError, DataError, NotFittedError
from lmrec.itemlist import ItemList

ARTIFACT_FORMAT = 1

#: Occluded variants of a history scored per batch when explaining.
_OCCLUSION_BATCH = 256


class ModelConfig(BaseModel):
    """Base of every model config: frozen, no unknown fields, field docstrings as descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    fallback: Literal["popularity", "nan"] = "popularity"
    """Scores for an empty history (an unknown user, an empty session): `popularity` ranks the most
    interacted items first, the same list for everyone (the log of each item's share of the training
    interactions, add-one smoothed: a log-probability, whatever the size of the data, so exploration
    temperatures mean alike for these users; the popularity model's own, possibly trending, scores);
    `nan` gives no scores."""


C = TypeVar("C", bound=ModelConfig)


class Recommender(ABC, Generic[C]):
    """A model that scores every catalogue item for a user given their history.

    Subclasses set `name` and `config_class`, and implement `_fit`, `_score`, `_state` and
    `_set_state`.

    Attributes:
        config: the validated configuration.
        items: item vocabulary seen in `fit` (after fitting).
        users: user vocabulary seen in `fit` (after fitting).
        history: the training histories of every known user (after fitting); used when a known
            user asks for recommendations without a history of their own.
        item_popularity: training interactions per item, shape (n_items,), float32 (after fitting);
            an empty history under the `popularity` fallback scores their smoothed log share.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]
    explain_methods: ClassVar[tuple[str, ...]] = ("occlusion",)
    """The methods `explain` takes, the model's default first; every model explains by occlusion."""

    config: C
    items: Vocabulary
    users: Vocabulary
    history: Histories
    item_popularity: np.ndarray

    def __init__(self, config: C | dict[str, Any] | None = None) -> None:
        self.config = self.make_config(config)  # type: ignore[assignment]
        self.is_fitted = False

    @classmethod
    def make_config(cls, config: ModelConfig | dict[str, Any] | None) -> ModelConfig:
        """Validate a config given as an object, a dict or None (the defaults)."""
        return validated_config(cls.config_class, config, cls.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # -- learning -----------------------------------------------------------------------------

    def fit(self, data: Dataset) -> Self:
        """Learn from `data`, replacing anything learned before; returns self.

        Raises:
            DataError: `data` has no items, so there is nothing to recommend.
        """
        if data.n_items == 0:
            raise DataError("the dataset has no items: there is nothing to recommend", field="items", value=0)
        self.is_fitted = False
        self.items = data.items
        self.users = data.users
        self.history = data.histories()
        self.item_popularity = self._count_items()
        self._fit(data)
        self.is_fitted = True
        return self

    @abstractmethod
    def _fit(self, data: Dataset) -> None:
        """Set the learned state from `data`."""

    # -- scoring ------------------------------------------------------------------------------

    def score_histories(self, histories: Histories) -> np.ndarray:
        """Scores of every catalogue item for each row, shape (B, n_items), float32.

        A row with an empty history gets the config's `fallback`. Items the model cannot score
        are NaN.
        """
        self._check_fitted()
        if len(histories) == 0:
            return np.empty((0, len(self.items)), dtype=np.float32)
        scores = np.asarray(self._score(histories), dtype=np.float32)
        if scores.shape != (len(histories), len(self.items)):
            raise AssertionError(
                f"{self.name} scored shape {scores.shape}, expected {(len(histories), len(self.items))}"
            )
        empty = histories.lengths() == 0
        if empty.any():
            scores[empty] = self._popular() if self.config.fallback == "popularity" else np.float32(np.nan)
        return scores

    @abstractmethod
    def _score(self, histories: Histories) -> np.ndarray:
        """Raw (B, n_items) scores; the base class checks the shape and fills empty rows."""

    def user_histories(self, user_ids: Any) -> Histories:
        """Training histories of external user ids (unknown users get an empty history)."""
        self._check_fitted()
        positions = self.users.index(np.asarray(user_ids, dtype=object))
        rows = [self.history.row(int(p)) if p >= 0 else np.empty(0, dtype=np.int64) for p in positions]
        return Histories.from_lists(rows, positions)

    def recommend(
        self,
        user_id: str | None = None,
        *,
        history: list[str] | None = None,
        k: int = 10,
        exclude_seen: bool = True,
        explain: int = 0,
        explain_method: str | None = None,
    ) -> ItemList:
        """Top-k items for a user (by id), an anonymous session (item ids), or both.

        A given `history` replaces the stored one, so a session can be scored as it unfolds. With
        `explain` = n > 0 the list gets a `because` column: for each item, up to n (history item id,
        weight) pairs, the history items that raised its score most (`drivers`, by `explain_method`,
        one of `explain_methods`; None is the model's default), strongest first.

        Raises:
            ConfigError: `k` or `explain` is negative.
        """
        self._check_fitted()
        for name, value in (("k", k), ("explain", explain)):
            if value < 0:
                raise ConfigError(f"{name} must be 0 or more (got {value})")
        if history is None:
            batch = self.user_histories([user_id if user_id is not None else ""])
        else:
            positions = self.items.index(history)
            user = self.users.index([user_id])[0] if user_id is not None else -1
            batch = Histories.from_lists([positions[positions >= 0]], np.array([user]))
        scores = self.score_histories(batch)[0]
        exclude = batch.row(0) if exclude_seen else None
        shown = ItemList.top_k(self.items, scores, k, exclude=exclude)
        if explain <= 0:
            return shown
        because = np.empty(len(shown), dtype=object)
        because[:] = [
            tuple((str(self.items.ids[i]), w) for i, w in pairs)
            for pairs in self.drivers(batch.row(0), shown.index, n=explain, method=explain_method)
        ]
        return shown.with_column(Columns.Because, because)

    # -- explaining ---------------------------------------------------------------------------

    @property
    def history_window(self) -> int | None:
        """How many of the newest history items the model reads (None: all of them)."""
        return None

    def explain(self, history: np.ndarray, items: np.ndarray, method: str | None = None) -> np.ndarray:
        """How much each history item raised the score of each of `items`.

        By occlusion, the weight of history entry j for item i is the drop in i's score when that one
        entry is removed and the rest scored as an anonymous session: it measures exactly the effect
        it reports. (Sequential models offer more methods; see `lmrec.models.sequential.explain`.)
        Only the newest `history_window` entries are read, as when scoring. A history emptied by the
        removal scores before the `fallback`, so the one item of a one-item history weighs its
        item's whole score.

        Args:
            history: item positions, oldest first.
            items: item positions to explain (for example the recommended ones).
            method: one of `explain_methods`; None takes the model's default (the first).

        Returns:
            (len(items), W) float32 weights for the newest W = min(len(history), history_window)
            entries, oldest first; 0 where the model cannot score the item.
        """
        self._check_fitted()
        method = method or self.explain_methods[0]
        if method not in self.explain_methods:
            raise ConfigError(f"{self.name} explains by {', '.join(self.explain_methods)}, not {method!r}")
        window = self.history_window
        recent = np.asarray(history, dtype=np.int64)[-window:] if window else np.asarray(history, dtype=np.int64)
        targets = np.asarray(items, dtype=np.int64)
        if len(recent) == 0 or len(targets) == 0:
            return np.zeros((len(targets), len(recent)), dtype=np.float32)
        return np.nan_to_num(self._explain(recent, targets, method)).astype(np.float32)

    def drivers(
        self, history: np.ndarray, items: np.ndarray, n: int = 1, method: str | None = None
    ) -> list[list[tuple[int, float]]]:
        """For each of `items`, the (at most) n history items that raised its score most, as
        (item position, weight) pairs, largest first; only items with a positive weight."""
        weights = self.explain(history, items, method)  # (len(items), W)
        recent = np.asarray(history, dtype=np.int64)[len(history) - weights.shape[1] :]
        out = []
        for row in weights:
            top = np.argsort(-row, kind="stable")[:n]
            out.append([(int(recent[t]), float(row[t])) for t in top if row[t] > 0])
        return out

    def _explain(self, history: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
        """(len(targets), len(history)) occlusion weights; models with a closed form override it."""
        full = np.asarray(self._score(Histories.from_lists([history])))[0, targets]  # (n,)
        drops = np.empty((len(targets), len(history)), dtype=np.float32)
        for start in range(0, len(history), _OCCLUSION_BATCH):
            stop = min(start + _OCCLUSION_BATCH, len(history))
            variants = Histories.from_lists([np.delete(history, j) for j in range(start, stop)])
            drops[:, start:stop] = full[:, None] - np.asarray(self._score(variants))[:, targets].T  # raw scores
        return drops

    def _popular(self) -> np.ndarray:
        """Scores of an empty history under the `popularity` fallback, shape (n_items,): the log of
        (interactions + 1) / (all interactions + items). Counts would grow with the data, and a
        softmax or Thompson policy over them would never explore for these users."""
        counts = self.item_popularity.astype(np.float64)
        return np.log((counts + 1.0) / (counts.sum() + len(counts))).astype(np.float32)

    def _count_items(self) -> np.ndarray:
        return np.bincount(self.history.items, minlength=len(self.items)).astype(np.float32)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{self.name} must be fitted (or loaded) before it can score")

    # -- persistence --------------------------------------------------------------------------

    def version(self) -> str:
        """A content hash of the fitted model, 16 hex digits: its name, config, learned arrays,
        vocabularies and training histories. Equal versions score alike; `save` and `load` keep it."""
        self._check_fitted()
        return self._version_of(self._arrays())

    def _version_of(self, arrays: dict[str, np.ndarray], config: dict[str, Any] | None = None) -> str:
        """`version` from arrays already built by `_arrays` (save builds them once for both) and the
        config as written (default: this model's)."""
        written = self.config.model_dump(mode="json") if config is None else config
        digest = hashlib.sha256(json.dumps([self.name, written], sort_keys=True).encode())
        for key in sorted(arrays):
            value = np.ascontiguousarray(arrays[key])
            digest.update(f"{key}:{value.dtype.str}:{value.shape}".encode())
            digest.update(value.tobytes())
        return digest.hexdigest()[:16]

    def _arrays(self) -> dict[str, np.ndarray]:
        """Everything `save` writes to `state.npz`: the learned state, vocabularies and histories."""
        state = {f"model.{k}": np.asarray(v) for k, v in self._state().items()}
        state["base.items"] = np.asarray(self.items.to_list(), dtype=str)
        state["base.users"] = np.asarray(self.users.to_list(), dtype=str)
        state["base.history_users"] = self.history.users
        state["base.history_indptr"] = self.history.indptr
        state["base.history_items"] = self.history.items
        return state

    def save(self, path: str | Path) -> Path:
        """Write `config.json` and `state.npz` into the folder `path`.

        Each file is written beside its final name and then renamed over it, so a save that is
        interrupted leaves the previous model's files whole. `config.json` records the model's
        `version`, and `load` refuses a state file that does not match it (a save cut off between
        the two renames).
        """
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        state = self._arrays()
        for key, value in state.items():
            if value.dtype == object:
                raise TypeError(f"{self.name} state {key!r} is an object array; artifacts hold plain arrays only")
        meta = {
            "format": ARTIFACT_FORMAT,
            "model": self.name,
            "lmrec_version": __version__,
            "version": self._version_of(state),
            "config": self.config.model_dump(mode="json"),
        }
        staged = {name: folder / f".{name}.tmp" for name in ("state.npz", "config.json")}
        with staged["state.npz"].open("wb") as file:  # a file object: np.savez adds no suffix to it
            np.savez(file, allow_pickle=False, **state)  # type: ignore[arg-type]
        staged["config.json"].write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        for name, tmp in staged.items():  # state first: a config never names a state that is not there
            tmp.replace(folder / name)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by `save`; the config is validated before any array is read."""
        folder = Path(path)
        meta = read_artifact_meta(folder)
        if meta["model"] != cls.name:
            raise ConfigError(f"{folder} holds a {meta['model']!r} model, not {cls.name!r}")
        model = cls(meta["config"])
        state = folder / "state.npz"
        if not state.is_file():
            raise ConfigError(f"{folder} is not a whole saved model: state.npz is missing")
        if not zipfile.is_zipfile(state):  # numpy would take it for a pickle and suggest loading it unsafely
            raise ConfigError(f"{state} is not an npz archive: the file is damaged or not a saved state")
        try:
            with np.load(state, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # a damaged archive member
            raise ConfigError(f"{state} cannot be read: {exc}") from exc
        model.items = Vocabulary(arrays["base.items"].tolist())
        model.users = Vocabulary(arrays["base.users"].tolist())
        model.history = Histories(
            arrays["base.history_users"], arrays["base.history_indptr"], arrays["base.history_items"]
        )
        model.item_popularity = model._count_items()
        model._set_state({k.removeprefix("model."): v for k, v in arrays.items() if k.startswith("model.")})
        model.is_fitted = True
        # the config as the file holds it: a setting added to the model since then has its default
        # in model.config, which the saved version never hashed
        saved, read = meta.get("version"), model._version_of(arrays, meta["config"])  # saved: absent in older artifacts
        if saved is not None and read != saved:
            raise ConfigError(
                f"{folder}: state.npz is not the state config.json was saved with (version {saved}, "
                f"read {read}); a save was cut off: save the model again"
            )
        return model

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (plain numeric or string arrays only)."""

    @abstractmethod
    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore learned arrays written by `_state`."""


def linear_occlusion(weights: np.ndarray | sp.spmatrix, history: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Exact occlusion weights of a model scoring `binary(history) @ weights`, shape (n, T).

    Removing an entry drops each target's score by its row of `weights`, unless the item occurs
    again in the history (the binary row does not change, and neither does the score).
    """
    distinct, counts = np.unique(history, return_counts=True)
    once = counts[np.searchsorted(distinct, history)] == 1  # (T,)
    rows = weights[history][:, targets].toarray() if sp.issparse(weights) else weights[np.ix_(history, targets)]
    return (rows * once[:, None]).T  # rows: (T, n)


def read_artifact_meta(folder: Path) -> dict[str, Any]:
    """Read and check a saved model's `config.json`."""
    path = folder / "config.json"
    if not path.is_file():
        raise ConfigError(f"{folder} is not a saved lmrec model: {path.name} is missing")
    try:
        meta = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != ARTIFACT_FORMAT or "model" not in meta:
        raise ConfigError(f"{path} is not an lmrec model artifact of format {ARTIFACT_FORMAT}")
    return meta
