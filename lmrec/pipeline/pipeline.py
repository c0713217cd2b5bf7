"""`Pipeline`: one deployed recommender, Candidates -> Score -> Re-rank -> Explore -> Explain.

A `PipelineConfig` (TOML or JSON) names every stage; the CLI, the simulator and the service run the
same object. Each stage takes and returns an `ItemList`:

1. Candidates: the union of the configured retrievers, each item tagged with its `source`; no source
   spends its n on an item of the user's history or of the request's `exclude` rule.
2. Score: the model's relevance for every candidate (items the model cannot score rank below every
   scored one), the Bayesian head's `uncertainty` when the policy needs one, and `cold` for items
   with few training interactions.
3. Re-rank: hard rules (never the user's own history, nothing unavailable, the request's filters; an
   `exclude` rule, of item ids, adds to the history),
   then the re-ranker orders the best `pool` items by its weighted objectives (per-request weights
   merge over the config's).
4. Explore: the policy (the configured one, or the one a request asks for) picks the k shown items
   from the re-ranked list and records each one's exact propensity. It sees the re-ranked order on
   the relevance scale: the j-th re-ranked item carries the j-th highest relevance of the pool, so
   temperatures and uncertainties keep their meaning.
5. Explain: a `reason` per item from the signals that produced it: the retrievers that found it, the
   objective that lifted it, whether it is an exploration pick, and the history item that raised its
   score most (by the model's `explain`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.configs import validated_config
from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.diagnostics import ConfigError
from lmrec.itemlist import ItemList
from lmrec.models.base import Recommender
from lmrec.pipeline.catalogue import GroupField, ItemFacts, Rules, apply_rules
from lmrec.pipeline.explore import Policy, create_policy
from lmrec.pipeline.rerank import LIFT, create_reranker
from lmrec.pipeline.retrievers import CatalogueSignals, RetrieverConfig, merge, retrieve
from lmrec.pipeline.uncertainty import BayesianLinearHead

#: Per-request policies kept, by their settings, before the cache starts over.
_POLICY_CACHE = 64


class StageConfig(BaseModel):
    """A named component and its settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """The component's registered name."""

    config: dict[str, Any] = Field(default_factory=dict)
    """Its settings (validated by the component's own config class)."""


def _default_retrievers() -> list[RetrieverConfig]:
    return [
        RetrieverConfig(kind="model", n=200),
        RetrieverConfig(kind="text", n=50),
        RetrieverConfig(kind="trending", n=20),
        RetrieverConfig(kind="fresh", n=20),
    ]


class PipelineConfig(BaseModel):
    """A whole deployed recommender, declared."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    retrievers: list[RetrieverConfig] = Field(default_factory=_default_retrievers)
    """Candidate sources, merged in this order."""

    reranker: StageConfig = StageConfig(name="mmr")
    """The re-ranker (`relevance`, `mmr`, `dpp`) and its settings; MMR and DPP need item text vectors."""

    policy: StageConfig = StageConfig(name="greedy")
    """The exploration policy (`greedy`, `epsilon`, `softmax`, `thompson`, `ucb`, `cold_budget`)."""

    rules: dict[str, Any] = Field(default_factory=dict)
    """Default hard rules (see `lmrec.pipeline.catalogue.Rules`, with `exclude` as item ids); a
    request's filters merge over them."""

    k: int = Field(default=10, ge=1)
    """Items per response unless the request says otherwise."""

    pool: int = Field(default=30, ge=1)
    """Items the re-ranker orders and the policy may pick from (at least k)."""

    value: str | None = None
    """Item field that is business value for the `value` objective (`price*margin`, `price`, an attribute)."""

    group: GroupField | None = None
    """Item field whose groups get fair exposure (`category`, `category_top`, `brand`, `popularity`)."""

    cold_below: int = Field(default=5, ge=0)
    """Items with fewer training interactions than this are `cold` (for the cold budget)."""

    explain: Literal["auto", "occlusion", "shapley", "mask", "gradient", "attention", "none"] = "auto"
    """How the model names the history items behind each shown item: `auto` (the model's default),
    `occlusion` (every model: the drop in the item's score without that history item), `shapley`
    (each history item's share of the item's lead; about ten times occlusion's time), `mask`,
    `gradient` or `attention` (sequential models), `none` skips it."""

    seed: int = Field(default=0, ge=0)
    """Seed of the policy's per-request draws."""

    def needs_item_vectors(self) -> bool:
        """Whether a stage reads item text vectors: a `text` retriever, the `mmr` or `dpp` re-ranker
        (diversity, which a request may weigh), or a policy with the Bayesian head's uncertainty."""
        policy = create_policy(self.policy.name, {"seed": self.seed, **self.policy.config})
        return (
            any(r.kind == "text" for r in self.retrievers)
            or self.reranker.name in ("mmr", "dpp")
            or bool(getattr(policy, "needs_uncertainty", False))
        )

    @classmethod
    def from_file(cls, path: str | Path) -> PipelineConfig:
        """Read a `.toml` or `.json` file."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the pipeline config {path}: {exc}") from exc
        return validated_config(cls, raw, f"pipeline ({path.name})")


@dataclass(frozen=True)
class Query:
    """One request: a known user, an anonymous session (item ids, oldest first), or both."""

    user_id: str | None = None
    history: tuple[str, ...] | None = None
    k: int | None = None
    request_id: str = "0"
    filters: Mapping[str, Any] = field(default_factory=dict)
    """This request's hard rules over the config's (`lmrec.pipeline.catalogue.Rules`); `exclude` lists
    item ids, like every id a request carries."""
    weights: Mapping[str, float] | None = None
    exploration: Mapping[str, Any] | None = None
    """This request's policy: `{"name": "greedy"}` switches policy (with its defaults); other keys are
    settings over the policy's configured ones (`{"epsilon": 0.3}`)."""

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ConfigError(f"k: a request shows at least 1 item (got {self.k})")


class Pipeline:
    """Runs requests through the configured stages over one fitted model and its catalogue.

    Args:
        config: the pipeline's declaration (an object, a dict, or None for the defaults).
        model: a fitted model (its item vocabulary is the catalogue's).
        data: the data the model was fitted on (catalogue table, interactions for trending).
        vectors: unit item text vectors (I, D) for text retrieval, diversity and the Bayesian head.
    """

    def __init__(
        self,
        config: PipelineConfig | Mapping[str, Any] | None,
        model: Recommender[Any],
        data: Dataset,
        vectors: np.ndarray | None = None,
    ) -> None:
        self.config = validated_config(PipelineConfig, config, "pipeline")
        if model.items != data.items:
            raise ConfigError("the model was fitted on another catalogue than the pipeline's data")
        if self.config.explain not in (*model.explain_methods, "auto", "none"):
            raise ConfigError(
                f"explain: {model.name} explains by {', '.join(model.explain_methods)} (or auto, none), "
                f"not {self.config.explain!r}"
            )
        self.model = model
        self.data = data
        self.signals = CatalogueSignals(data, vectors)
        self.facts = ItemFacts.from_dataset(data, vectors, value=self.config.value, group=self.config.group)
        self.reranker = create_reranker(self.config.reranker.name, self.config.reranker.config)
        self.policy = create_policy(self.config.policy.name, {"seed": self.config.seed, **self.config.policy.config})
        self.head: BayesianLinearHead | None = None
        if getattr(self.policy, "needs_uncertainty", False):
            if vectors is None:
                raise ConfigError(f"the {self.policy.name} policy needs item vectors for its uncertainty")
            self.head = BayesianLinearHead({"dimension": vectors.shape[1]})
        self._policies: dict[str, Policy[Any]] = {}  # per-request policies, by their settings

    @functools.cached_property
    def version(self) -> str:
        """A hash of the pipeline's config and its model's `version`, 16 hex digits: what a pipeline
        log records as `pipeline_version`. It leaves out the data beside the model (item fields,
        trending counts) and what a Thompson or UCB head has learned online."""
        config = json.dumps(self.config.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(f"{config}\n{self.model.version()}".encode()).hexdigest()[:16]

    def recommend(self, query: Query) -> ItemList:
        """The shown list for one request, with `source`, `lift`, `propensity`, `explored`, `reason`."""
        k, history, candidates, ordered, policy = self._pool(query)
        shown = policy.select(ordered, k, policy.rng(query.request_id))
        shown = shown.with_scores(candidates.scores[_positions_in(candidates, shown)])  # true relevance back
        return shown.with_column(Columns.Reason, self._reasons(shown, history))

    def slot_distribution(self, query: Query) -> tuple[ItemList, np.ndarray]:
        """Everything the request could show, without drawing: the re-ranked pool the policy picks from
        and P[i, j], the probability that pool item i is shown at slot j (what `recommend` logs as the
        propensity of the item it shows there).

        Returns:
            pool: the re-ranked items (catalogue positions in `index`), on the relevance scale the
                policy reads (the j-th item carries the pool's j-th highest relevance).
            probabilities: (len(pool), min(k, len(pool))); columns sum to 1, rows to at most 1.
        """
        k, _, _, ordered, policy = self._pool(query)
        return ordered, policy.slot_probabilities(ordered, k)

    def _pool(self, query: Query) -> tuple[int, np.ndarray, ItemList, ItemList, Policy[Any]]:
        """Candidates -> score -> rules -> re-rank for one request: k, the history, the scored
        candidates, the re-ranked pool on the relevance scale, and the request's policy."""
        k = query.k or self.config.k
        user, history = self._history(query)
        scores = self.model.score_histories(Histories.from_lists([history], np.array([user])))[0]  # (I,)
        rules = Rules.make(self._rules(query))
        blocked = np.union1d(history, np.asarray(rules.exclude, dtype=np.int64))  # the history and the request's
        found: list[tuple[str, np.ndarray]] = [
            (r.kind, retrieve(r, scores, history, self.signals, blocked)) for r in self.config.retrievers
        ]
        candidates = self._score(merge(found, self.data), scores)
        rules = rules.model_copy(update={"exclude": tuple(blocked.tolist())})
        allowed = apply_rules(candidates, rules, self.facts, self.data)
        reranked = self.reranker.rerank(allowed, max(k, self.config.pool), self.facts, weights=query.weights)
        ordered = reranked.with_scores(np.sort(reranked.scores)[::-1])  # the re-ranked order, relevance scale
        return k, history, candidates, ordered, self.policy_for(query.exploration)

    def policy_for(self, exploration: Mapping[str, Any] | None) -> Policy[Any]:
        """The policy a request's `exploration` asks for (the configured one when it asks nothing)."""
        if not exploration:
            return self.policy
        name = str(exploration.get("name", self.config.policy.name))
        settings = {k: v for k, v in exploration.items() if k != "name"}
        configured = self.config.policy.config if name == self.config.policy.name else {}
        key = json.dumps({"name": name, **settings}, sort_keys=True, default=str)
        if key not in self._policies:
            policy = create_policy(name, {"seed": self.config.seed, **configured, **settings})
            if getattr(policy, "needs_uncertainty", False) and self.head is None:
                raise ConfigError(
                    f"exploration: the {name} policy needs the Bayesian head, which this pipeline has only "
                    "when its configured policy is thompson or ucb"
                )
            if len(self._policies) >= _POLICY_CACHE:
                self._policies.clear()
            self._policies[key] = policy
        return self._policies[key]

    def feedback(self, items: np.ndarray, rewards: np.ndarray) -> None:
        """Teach the Bayesian head from shown items (positions) and their rewards (clicks)."""
        if self.head is not None and self.signals.vectors is not None:
            self.head.update(self.signals.vectors[np.asarray(items, dtype=np.int64)], np.asarray(rewards, float))

    def _rules(self, query: Query) -> dict[str, Any]:
        """The config's rules with the request's filters over them, `exclude`'s item ids as positions
        (an id the catalogue lacks can never be shown, so it is dropped)."""
        rules = {**self.config.rules, **dict(query.filters)}
        if "exclude" in rules:
            ids = rules["exclude"]
            positions = self.model.items.index([ids] if isinstance(ids, str) else list(ids))
            rules["exclude"] = positions[positions >= 0]
        return rules

    def _history(self, query: Query) -> tuple[int, np.ndarray]:
        user = int(self.model.users.index([query.user_id])[0]) if query.user_id is not None else -1
        if query.history is not None:
            positions = self.model.items.index(list(query.history))
            return user, positions[positions >= 0]
        return user, self.model.user_histories([query.user_id or ""]).row(0)

    def _score(self, candidates: ItemList, scores: np.ndarray) -> ItemList:
        relevance = scores[candidates.index].astype(np.float64)
        if np.isnan(relevance).any():  # found by another source but unscored by the model: rank below
            floor = np.nanmin(relevance) - 1.0 if (~np.isnan(relevance)).any() else 0.0
            relevance = np.where(np.isnan(relevance), floor, relevance)
        out = candidates.with_scores(relevance)
        out = out.with_column(Columns.Cold, self.signals.counts[candidates.index] < self.config.cold_below)
        if self.head is not None and self.signals.vectors is not None:
            mean, std = self.head.predict(self.signals.vectors[candidates.index])
            out = out.with_scores(relevance + mean).with_column(Columns.Uncertainty, std)
        return out

    def _reasons(self, shown: ItemList, history: np.ndarray) -> np.ndarray:
        drivers = self._drivers(shown, history)
        reasons = []
        for j in range(len(shown)):
            parts = [f"found by {shown.column(Columns.Source)[j]}"]
            lift = str(shown.column(LIFT)[j])
            if lift != "relevance":
                parts.append(f"lifted by {lift}")
            if bool(shown.column(Columns.Explored)[j]):
                parts.append("exploration pick")
            if drivers[j] is not None:
                parts.append(f"because of {drivers[j]}")
            reasons.append("; ".join(parts))
        return np.asarray(reasons, dtype=object)

    def _drivers(self, shown: ItemList, history: np.ndarray) -> list[str | None]:
        if self.config.explain == "none" or len(history) == 0 or len(shown) == 0:
            return [None] * len(shown)
        titles = self.data.item_table[Columns.Title].to_numpy()
        out: list[str | None] = []
        method = None if self.config.explain == "auto" else self.config.explain
        for pairs in self.model.drivers(history, shown.index, n=1, method=method):
            out.append(str(titles[pairs[0][0]] or self.data.items.ids[pairs[0][0]]) if pairs else None)
        return out


def _positions_in(candidates: ItemList, shown: ItemList) -> np.ndarray:
    """Position in `candidates` of each shown item."""
    where = {int(i): p for p, i in enumerate(candidates.index.tolist())}
    return np.array([where[int(i)] for i in shown.index], dtype=np.int64)
