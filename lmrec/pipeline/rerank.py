"""Re-ranking: choose the order of the shown list by a weighted sum of objectives.

A re-ranker takes the scored candidates (an `ItemList` whose scores are relevance, higher is
better, after `apply_rules` has removed what may never be shown) and returns the top k in the
chosen order, with the original scores and columns kept and two columns added:

- `lift`: which objective put the item there: `relevance` when the most relevant item left would
  have been picked anyway, else the objective whose term most exceeds that item's (the one it
  displaced): `diversity`, `novelty`, `value` or `fairness`. The Explain stage turns it into a reason.
- `gain`: the objective's marginal gain when the item was picked.

Candidates with a NaN score are never shown. The objectives of candidate i given the items Y
already picked, each on a comparable scale over the n scored candidates:

- relevance rel_i: min-max scaled score (s_i - min s) / (max s - min s), 1 when all are equal; or,
  with `relevance_scale="rank"`, 1 - (r_i - 1) / (n - 1) with r_i the average rank (1 = best);
- novelty nov_i: x_i = -log(max(pop_i, 1) / Σ_catalogue pop), min-max scaled to [0, 1] over the
  candidates (0 when all are equal): the long tail scores 1, the most popular candidate 0;
- value val_i = v_i / max_j |v_j| over the candidates, in [-1, 1] (0 when all are 0);
- diversity: MMR uses the redundancy max_{j in Y} cos(i, j), or with `redundancy="sum"` the summed
  cosine to Y (0 while Y is empty); DPP the log of the volume item i adds to Y's item vectors (see `DPP`);
- fairness fair_i = clip(τ_g (|Y| + 1) - count_g(Y), 0, 1) for g = group(i): how far g would still be
  below its target share τ_g of the list's slots once this slot is filled. Targets are proportional
  to the catalogue's group sizes, uniform, or given by name; they are renormalised over the groups
  present among the candidates, since exposure can only go to them.

An item outside the vocabulary (index -1) has no facts: popularity 0 (the highest novelty), value
0, no group (no fairness gain) and no vector (cosine 0 with every item). Ties are broken towards
higher relevance, then input order, so with every weight 0 but relevance (or all 0) every re-ranker
gives the plain sort by score.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import rankdata

from lmrec.configs import validated_config
from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline.catalogue import ItemFacts

# Re-exported: rules are applied right before the objectives.
from lmrec.pipeline.catalogue import Rules as Rules
from lmrec.pipeline.catalogue import apply_rules as apply_rules

#: Column naming the objective that lifted each item (values: `OBJECTIVES`).
LIFT = "lift"
#: Column holding the objective's marginal gain when each item was picked.
GAIN = "gain"
#: Every objective, in the order lifts are tried when two advantages tie.
OBJECTIVES = ("relevance", "diversity", "novelty", "value", "fairness")


class ObjectiveWeights(BaseModel):
    """Weight of each objective in the re-ranking sum; all >= 0, all 0 gives the plain sort."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)

    relevance: float = Field(default=1.0, ge=0.0)
    """Weight of the scaled model score."""

    diversity: float = Field(default=0.0, ge=0.0)
    """Weight of the diversity term: the MMR redundancy penalty or the DPP log-volume."""

    novelty: float = Field(default=0.0, ge=0.0)
    """Weight of the scaled self-information -log(popularity share)."""

    value: float = Field(default=0.0, ge=0.0)
    """Weight of the scaled business value (price, margin, any numeric item field)."""

    fairness: float = Field(default=0.0, ge=0.0)
    """Weight of the gain for groups below their target share of the list."""

    def merged(self, override: ObjectiveWeights | Mapping[str, float] | None) -> ObjectiveWeights:
        """These weights with a request's override on top: only the fields it sets replace ours."""
        if override is None:
            return self
        if isinstance(override, ObjectiveWeights):
            update = {name: getattr(override, name) for name in override.model_fields_set}
        elif isinstance(override, Mapping):
            update = dict(override)
        else:
            raise ConfigError(f"weights take an ObjectiveWeights or a dict, not {type(override).__name__}")
        return validated_config(ObjectiveWeights, {**self.model_dump(), **update}, "weights")


FairnessTarget = Literal["catalogue", "uniform"] | dict[str, Annotated[float, Field(ge=0.0)]]


class RerankerConfig(BaseModel):
    """Base of every re-ranker config: frozen, no unknown fields, field docstrings as descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)


class ObjectiveConfig(RerankerConfig):
    """Settings shared by the re-rankers that weigh objectives."""

    weights: ObjectiveWeights = ObjectiveWeights()
    """Default weights; a request's own weights are merged over them field by field."""

    relevance_scale: Literal["minmax", "rank"] = "minmax"
    """How scores become the relevance term: min-max scaled over the candidates, or by rank."""

    fairness_target: FairnessTarget = "catalogue"
    """Target share of the list per group: `catalogue` (each group's share of the catalogue),
    `uniform`, or shares by group name (unnamed groups get 0)."""

    head: int = Field(default=0, ge=0)
    """The first `head` places go to the most relevant candidates, as they are; the objectives then
    fill the rest, with diversity and fairness counted against the head too. The top places carry
    most of a list's clicks (and of NDCG), so protecting them buys diversity further down cheaply."""

    position_discount: bool = False
    """Weigh the per-item objectives (relevance, novelty, value) of place t (0-based) by the DCG
    discount 1 / log2(t + 2), leaving the list terms (diversity, fairness) whole: a place further down
    carries less of the list's value, so it is the cheaper one to spend on diversity. The smooth
    counterpart of `head`."""


C = TypeVar("C", bound=RerankerConfig)


@dataclass(frozen=True)
class Terms:
    """The objective terms of one request over its n scored candidates, in relevance order."""

    weights: ObjectiveWeights
    relevance: np.ndarray
    """Scaled relevance, shape (n,), non-increasing."""
    novelty: np.ndarray
    """Scaled novelty in [0, 1], shape (n,)."""
    value: np.ndarray
    """Scaled value in [-1, 1], shape (n,)."""
    group: np.ndarray
    """Group code, shape (n,); -1 for no group."""
    target: np.ndarray
    """Target share of each group code, shape (G,), summing to 1 over the groups present (or all 0)."""
    vectors: np.ndarray | None
    """Unit item vectors (zero rows for none), shape (n, D), float64; None when diversity is not weighed."""

    def __len__(self) -> int:
        return len(self.relevance)

    def quality(self) -> np.ndarray:
        """w_rel·rel + w_nov·nov + w_val·val, shape (n,)."""
        w = self.weights
        return w.relevance * self.relevance + w.novelty * self.novelty + w.value * self.value

    def fairness(self, counts: np.ndarray, picked: int) -> np.ndarray:
        """w_fair·fair_i given `counts` (G,) of each group among the `picked` items so far, shape (n,)."""
        if self.weights.fairness == 0 or not len(self.target):
            return np.zeros(len(self))
        safe = np.maximum(self.group, 0)
        deficit = self.target[safe] * (picked + 1) - counts[safe]  # (n,)
        return self.weights.fairness * np.where(self.group >= 0, np.clip(deficit, 0.0, 1.0), 0.0)


class Diversity(Protocol):
    """The list-dependent diversity term of a greedy re-ranker."""

    def term(self) -> np.ndarray:
        """The weighted diversity term of every candidate given the items added so far, shape (n,)."""
        ...

    def add(self, j: int) -> None:
        """Record that candidate j was picked."""
        ...


class Reranker(ABC, Generic[C]):
    """Chooses the order of the shown list from scored candidates.

    Subclasses set `name` and `config_class` and implement `_order` on validated `Terms`; the base
    class validates input, drops NaN scores, merges weights and builds the output.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[RerankerConfig]]

    config: C

    def __init__(self, config: C | Mapping[str, Any] | None = None) -> None:
        self.config = validated_config(self.config_class, config, self.name)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def weights(self, override: ObjectiveWeights | Mapping[str, float] | None = None) -> ObjectiveWeights:
        """The weights of one request: the config's defaults with `override` merged over them."""
        defaults = getattr(self.config, "weights", ObjectiveWeights())
        return defaults.merged(override)

    def rerank(
        self,
        candidates: ItemList,
        k: int,
        facts: ItemFacts | None = None,
        *,
        weights: ObjectiveWeights | Mapping[str, float] | None = None,
    ) -> ItemList:
        """The min(k, scored candidates) chosen items in order, with `lift` and `gain` columns.

        Args:
            candidates: scored candidates (NaN: never shown); ids must be unique; columns are kept.
            k: length of the list to return, >= 0.
            facts: catalogue facts; needed when novelty, value, fairness or diversity is weighed.
            weights: this request's weights, merged over the config's.
        """
        merged = self.weights(weights)
        valid = _prepare(candidates, k, facts)
        m = min(int(k), len(valid))
        lift: list[str] = []
        gain: list[float] = []
        if m == 0:
            shown = candidates.take(np.empty(0, dtype=np.int64))
        else:
            terms = self._terms(candidates.scores[valid], candidates.index[valid], facts, merged)
            order, lift, gain = self._order(terms, m)
            shown = candidates.take(valid[order])
        columns = {**shown.columns, LIFT: np.asarray(lift, dtype=object), GAIN: np.asarray(gain, dtype=np.float64)}
        return ItemList(shown.ids, shown.index, shown.scores, columns)

    def _terms(self, scores: np.ndarray, index: np.ndarray, facts: ItemFacts | None, w: ObjectiveWeights) -> Terms:
        scale = getattr(self.config, "relevance_scale", "minmax")
        target: FairnessTarget = getattr(self.config, "fairness_target", "catalogue")
        return objective_terms(scores, index, facts, w, relevance_scale=scale, fairness_target=target)

    @abstractmethod
    def _order(self, terms: Terms, m: int) -> tuple[np.ndarray, list[str], list[float]]:
        """Positions in `terms` of the m picks in order, their lifts and gains; 1 <= m <= len(terms)."""


def _prepare(candidates: ItemList, k: int, facts: ItemFacts | None) -> np.ndarray:
    """Validate the input; positions of the scored candidates, best score first (ties: list order)."""
    if not isinstance(candidates, ItemList):
        raise TypeError(f"candidates must be an ItemList, not {type(candidates).__name__}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise DataError("k must be a whole number >= 0", field="k", value=k)
    if facts is not None and not isinstance(facts, ItemFacts):
        raise TypeError(f"facts must be ItemFacts, not {type(facts).__name__}")
    scores = candidates.scores
    infinite = np.flatnonzero(np.isinf(scores))
    if len(infinite):
        row = int(infinite[0])
        raise DataError("scores must be finite (NaN leaves an item out)", field="score", row=row, value=scores[row])
    valid = np.flatnonzero(~np.isnan(scores))
    ids = candidates.ids[valid].tolist()
    if len(set(ids)) != len(ids):
        seen: set[Any] = set()
        for item, row in zip(ids, valid.tolist(), strict=True):
            if item in seen:
                raise DataError(
                    "the item appears more than once among the candidates", field="ids", row=row, value=item
                )
            seen.add(item)
    if facts is not None:
        facts.check_index(candidates.index)
    return valid[np.argsort(-scores[valid], kind="stable")]


def objective_terms(
    scores: np.ndarray,
    index: np.ndarray,
    facts: ItemFacts | None,
    weights: ObjectiveWeights,
    *,
    relevance_scale: str = "minmax",
    fairness_target: FairnessTarget = "catalogue",
) -> Terms:
    """The scaled objective terms (see the module doc) of candidates sorted by score, best first."""
    n = len(scores)
    needs = [o for o in ("novelty", "value", "fairness", "diversity") if getattr(weights, o) > 0]
    if facts is None and needs:
        raise ConfigError(f"the {needs[0]} objective needs ItemFacts (facts=)")
    if weights.diversity > 0 and facts is not None and facts.vectors is None:
        raise DataError(
            "the diversity objective needs item vectors; the facts have none (give vectors or weigh diversity 0)",
            field="vectors",
        )
    relevance = _relevance(scores, relevance_scale)
    if facts is None:
        empty = np.zeros(n)
        return Terms(weights, relevance, empty, empty, np.full(n, -1), np.zeros(0), None)
    known = index >= 0
    safe = np.where(known, index, 0)
    counts = np.where(known, facts.popularity[safe], 0.0)
    surprise = -np.log(np.maximum(counts, 1.0) / facts.total_popularity)
    values = np.where(known, facts.value[safe], 0.0)
    top = float(np.abs(values).max()) if n else 0.0
    group = np.where(known, facts.group[safe], -1)
    vectors = None
    if weights.diversity > 0:
        assert facts.vectors is not None
        vectors = np.where(known[:, None], facts.vectors[safe].astype(np.float64), 0.0)  # (n, D)
    target = _targets(facts, group, fairness_target) if weights.fairness > 0 else np.zeros(0)
    value = values / top if top > 0 else np.zeros(n)
    return Terms(weights, relevance, _minmax(surprise, 0.0), value, group, target, vectors)


def _minmax(x: np.ndarray, flat: float) -> np.ndarray:
    """(x - min) / (max - min), `flat` everywhere when all values are equal."""
    low, high = float(x.min()), float(x.max())
    return (x - low) / (high - low) if high > low else np.full(len(x), flat)


def _relevance(scores: np.ndarray, scale: str) -> np.ndarray:
    if scale == "rank":
        n = len(scores)
        ranks = rankdata(-scores, method="average")  # 1 = best, ties share their mean rank
        return 1.0 - (ranks - 1.0) / (n - 1) if n > 1 else np.ones(n)
    return _minmax(scores, 1.0)


def _targets(facts: ItemFacts, group: np.ndarray, target: FairnessTarget) -> np.ndarray:
    """Target share of each group code, renormalised over the groups present, shape (G,)."""
    if target == "catalogue":
        shares = facts.group_shares()
    elif target == "uniform":
        shares = np.ones(facts.n_groups)
    else:
        assert isinstance(target, dict)
        codes = {name: code for code, name in enumerate(facts.group_names)}
        unknown = sorted(set(target) - set(codes))
        if unknown:
            raise ConfigError(f"fairness_target names unknown group {unknown[0]!r}; groups: {list(facts.group_names)}")
        shares = np.zeros(facts.n_groups)
        for name, share in target.items():
            shares[codes[name]] = share
    present = np.zeros(facts.n_groups, dtype=bool)
    present[group[group >= 0]] = True
    shares = np.where(present, shares, 0.0)
    total = shares.sum()
    return shares / total if total > 0 else shares


def greedy(
    terms: Terms, m: int, diversity: Diversity | None, head: int = 0, discount: bool = False
) -> tuple[np.ndarray, list[str], list[float]]:
    """Pick m candidates one by one, each maximising quality + diversity term + fairness term;
    the first `head` picks are the most relevant candidates, and with `discount` the quality of
    place t is weighed by 1 / log2(t + 2).

    Ties go to the earliest candidate, i.e. the most relevant one, then the first in input order.
    """
    n = len(terms)
    quality = terms.quality()  # (n,)
    counts = np.zeros(len(terms.target))
    chosen = np.zeros(n, dtype=bool)
    order = np.empty(m, dtype=np.int64)
    lifts: list[str] = []
    gains: list[float] = []
    for t in range(m):
        parts = {
            "diversity": diversity.term() if diversity is not None else np.zeros(n),
            "fairness": terms.fairness(counts, t),
        }
        scale = 1.0 / np.log2(t + 2.0) if discount else 1.0
        objective = scale * quality + parts["diversity"] + parts["fairness"]  # (n,)
        objective[chosen] = -np.inf
        j = int(np.argmax(objective)) if t >= head else t  # candidates come in relevance order
        lifts.append(_lift(terms, j, int(np.argmin(chosen)), parts, scale))
        gains.append(float(objective[j]))
        order[t] = j
        chosen[j] = True
        if len(counts) and terms.group[j] >= 0:
            counts[terms.group[j]] += 1
        if diversity is not None and t + 1 < m:
            diversity.add(j)
    return order, lifts, gains


def _lift(terms: Terms, j: int, first: int, parts: Mapping[str, np.ndarray], scale: float = 1.0) -> str:
    """`relevance` when j is the most relevant item left (`first`), else the objective whose term
    most exceeds the first's (at least one does, since j beat it with no more relevance); `scale` is
    the place's weight on the per-item terms."""
    if j == first:
        return "relevance"
    w = terms.weights
    advantage = {
        "diversity": parts["diversity"][j] - parts["diversity"][first],
        "novelty": scale * w.novelty * (terms.novelty[j] - terms.novelty[first]),
        "value": scale * w.value * (terms.value[j] - terms.value[first]),
        "fairness": parts["fairness"][j] - parts["fairness"][first],
    }
    return max(advantage, key=lambda name: advantage[name])


class RelevanceConfig(RerankerConfig):
    """The relevance re-ranker has no settings."""


class RelevanceReranker(Reranker[RelevanceConfig]):
    """The plain sort by score (the baseline); weights are ignored, every lift is `relevance`."""

    name = "relevance"
    config_class = RelevanceConfig

    def weights(self, override: ObjectiveWeights | Mapping[str, float] | None = None) -> ObjectiveWeights:
        ObjectiveWeights().merged(override)  # still validated, so a typo is caught here too
        return ObjectiveWeights()

    def _order(self, terms: Terms, m: int) -> tuple[np.ndarray, list[str], list[float]]:
        return np.arange(m), ["relevance"] * m, terms.relevance[:m].tolist()


class MMRConfig(ObjectiveConfig):
    """Settings of maximal marginal relevance."""

    weights: ObjectiveWeights = ObjectiveWeights(diversity=0.0425)
    """Default weights; a request's own weights are merged over them field by field. Diversity 0.0425
    with the summed redundancy and the position discount (the defaults below) buys +20% intra-list
    diversity for -2.7% NDCG@10 on amazon-games (EASE's candidates) and +30% for -2.5% on the
    synthetic shop (SASRec's) (`benchmarks/bench_rerank.py`, the `mmr_ild` row)."""

    position_discount: bool = True
    """As in `ObjectiveConfig`, but on by default for MMR (it is part of the benchmarked default)."""

    redundancy: Literal["max", "sum"] = "sum"
    """How an item's similarity to the picks is counted: `max`, the closest pick (classic MMR: only
    near-duplicates cost), or `sum`, the summed cosine to all picks: adding item i to t picks adds
    t - Σ_j cos(i, j) to the list's total pairwise distance, so this is the pick's exact effect on
    intra-list diversity, and each place further down weighs diversity more (it forms more pairs)."""


class Redundancy:
    """MMR's diversity term -w_div · max_{j in Y} cos(i, j) (or the sum over Y), kept up to date."""

    def __init__(self, vectors: np.ndarray, weight: float, reduce: Literal["max", "sum"] = "max") -> None:
        self.vectors = vectors
        self.weight = weight
        self.reduce = reduce
        self.penalty = np.zeros(len(vectors))  # (n,) max or summed cosine to the picks; 0 while there are none
        self.empty = True

    def term(self) -> np.ndarray:
        return -self.weight * self.penalty

    def add(self, j: int) -> None:
        similarity = self.vectors @ self.vectors[j]  # (n,)
        if self.empty:
            self.penalty = similarity
        elif self.reduce == "sum":
            self.penalty = self.penalty + similarity
        else:
            self.penalty = np.maximum(self.penalty, similarity)
        self.empty = False


class MMR(Reranker[MMRConfig]):
    """Maximal marginal relevance (Carbonell & Goldstein 1998) with more objectives, picked greedily
    for place t = |Y|:

        i* = argmax_{i not in Y}  d_t · (w_rel·rel_i + w_nov·nov_i + w_val·val_i)
                                  - w_div·Σ_{j in Y} cos(i, j) + w_fair·fair_i(Y)

    with d_t = 1 / log2(t + 2) (`position_discount`, on by default; 1 when off) and the sum over Y
    (`redundancy="sum"`, the default; `max` is the classic closest-pick penalty).
    Cost O(k · n · D) for n candidates with D-dimensional vectors.
    """

    name = "mmr"
    config_class = MMRConfig

    def _order(self, terms: Terms, m: int) -> tuple[np.ndarray, list[str], list[float]]:
        redundancy = None
        if terms.vectors is not None:
            redundancy = Redundancy(terms.vectors, terms.weights.diversity, self.config.redundancy)
        return greedy(terms, m, redundancy, self.config.head, self.config.position_discount)


class DPPConfig(ObjectiveConfig):
    """Settings of the determinantal point process re-ranker."""

    weights: ObjectiveWeights = ObjectiveWeights(diversity=0.3)
    """Default weights; a request's own weights are merged over them field by field. Diversity 0.3
    is the largest weight within 3% NDCG@10 loss on amazon-games and the synthetic shop
    (`benchmarks/bench_rerank.py`; it buys +12.5% and +22% intra-list diversity)."""

    epsilon: float = Field(default=1e-3, gt=0.0, le=1.0)
    """Added to the similarity kernel's diagonal: keeps it positive definite, so a duplicate of a
    picked item costs w_div · log(epsilon / (1 + epsilon)) instead of minus infinity."""


class Volume:
    """DPP's diversity term w_div · log d_i², d_i² = det(S_{Y+i}) / det(S_Y), by incremental Cholesky.

    Chen, Zhang & Zhou, "Fast greedy MAP inference for determinantal point process" (NeurIPS 2018),
    Algorithm 1: with c_i the first |Y| entries of the Cholesky row of item i, adding j gives
    e_i = (S_ji - <c_j, c_i>) / d_j, then c_i <- [c_i, e_i] and d_i² <- d_i² - e_i².
    """

    def __init__(self, vectors: np.ndarray, weight: float, epsilon: float, m: int) -> None:
        self.vectors = vectors  # (n, D)
        self.weight = weight
        self.epsilon = epsilon
        n = len(vectors)
        self.rows = np.zeros((m, n))  # (m, n) Cholesky rows c
        self.d2 = np.full(n, 1.0 + epsilon)  # (n,) S_ii
        self.picked = 0

    def term(self) -> np.ndarray:
        return self.weight * np.log(np.maximum(self.d2, 1e-300))

    def add(self, j: int) -> None:
        similarity = self.vectors @ self.vectors[j]  # (n,) S_j· off the diagonal
        similarity[j] = 1.0 + self.epsilon
        t = self.picked
        e = (similarity - self.rows[:t, j] @ self.rows[:t]) / np.sqrt(self.d2[j])  # (n,)
        self.rows[t] = e
        self.d2 = self.d2 - e**2
        self.picked += 1


class DPP(Reranker[DPPConfig]):
    """Greedy MAP inference of a determinantal point process over the candidates.

    The kernel is L = diag(q) S diag(q) with q_i = exp(α · quality_i), quality_i = w_rel·rel_i +
    w_nov·nov_i + w_val·val_i, and S_ij = cos(i, j) + ε·[i = j] over the item vectors (an item with no
    vector is orthogonal to all). With α = 1 / (2 w_div),

        w_div · log det L_Y = Σ_{i in Y} quality_i + w_div · log det S_Y,

    so the diversity weight plays MMR's role: how much quality a unit of log-volume is worth. Each
    greedy step adds the item of largest quality_i + w_div · log d_i² (d_i² its squared distance from
    the span of the picked vectors, updated by `Volume`) + w_fair · fair_i(Y); the fairness term is
    a per-step bonus outside the DPP proper. Cost O(k · n · (D + k)).
    """

    name = "dpp"
    config_class = DPPConfig

    def _order(self, terms: Terms, m: int) -> tuple[np.ndarray, list[str], list[float]]:
        volume = None
        if terms.vectors is not None:
            volume = Volume(terms.vectors, terms.weights.diversity, self.config.epsilon, m)
        return greedy(terms, m, volume, self.config.head, self.config.position_discount)


#: Every re-ranker by name.
RERANKERS: dict[str, type[Reranker[Any]]] = {cls.name: cls for cls in (RelevanceReranker, MMR, DPP)}


def create_reranker(name: str, config: RerankerConfig | Mapping[str, Any] | None = None) -> Reranker[Any]:
    """A re-ranker by name with an optional config (an instance or a dict)."""
    if name not in RERANKERS:
        raise ConfigError(f"unknown re-ranker {name!r}; known re-rankers: {', '.join(sorted(RERANKERS))}")
    return RERANKERS[name](config)
