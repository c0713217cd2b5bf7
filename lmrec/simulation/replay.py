"""A pipeline's log and its replay: estimate a candidate pipeline from another one's impressions.

A *pipeline log* is a table with one row per shown item (`PIPELINE_LOG_COLUMNS`): the request
(`round`, its request id), its `user` (empty for an anonymous session), the slot (`position`,
0-based), the `item` shown (external ids, as in the catalogue), the `reward` it earned (a click: 0
or 1), the `propensity` the logging pipeline gave it (`Pipeline.recommend` puts it in the
`propensity` column) and, optionally, `query`: the rest of the request as a JSON object (`history`,
`filters`, `weights`, `exploration`; see `Query`), so that a replay sees the request that was
served, and `pipeline_version`: the `Pipeline.version` that served it. `pipeline_log` writes one
from the queries, the shown lists and their clicks.

`replay` asks a target pipeline, request by request, what it would have shown there: its
`Pipeline.slot_distribution` for the logged query with as many slots as the request had. The
result is the log as an `ImpressionLog` over the catalogue and the target as a `SlotTarget`, which is
what the estimators of `lmrec.simulation.ope` take. The target is replayed as it is now: its model,
its data (a known user's history) and, for Thompson sampling or UCB, the Bayesian head as it stands.

No importance weight sees an item the logging pipeline never shows at a slot, so the estimators miss
whatever a target earns there. Replaying the logging pipeline too measures that share:
`blind_mass(target, logging)`; per row, `expected_weights(target, logging)` is the rest, each row's
expected importance weight, which a likelihood interval holds the weights to
(`SlotTarget.expected_weight`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.diagnostics import DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline.pipeline import Pipeline, Query
from lmrec.serialization import json_default
from lmrec.simulation.logs import ImpressionLog
from lmrec.simulation.ope import SlotTarget

#: The columns every pipeline log has, in order; `query` may follow.
PIPELINE_LOG_COLUMNS = ("round", "user", "position", "item", "reward", "propensity")
#: The optional column with the rest of each request, as JSON.
QUERY_COLUMN = "query"
#: The `Query` fields the `query` column may hold.
QUERY_FIELDS = ("history", "filters", "weights", "exploration")
#: The optional column naming the pipeline that served each row (`Pipeline.version`).
VERSION_COLUMN = "pipeline_version"


def pipeline_log(
    queries: Sequence[Query], shown: Sequence[ItemList], rewards: Sequence[np.ndarray], version: str | None = None
) -> pd.DataFrame:
    """The pipeline log of some requests: `queries[t]` was answered with `shown[t]` (a
    `Pipeline.recommend` result), whose slots earned `rewards[t]`, shape (len(shown[t]),). The round
    is the query's request id; the fields it sets beyond user and k go to the `query` column, and
    `version` (the serving `Pipeline.version`), when given, to `pipeline_version`."""
    frames = []
    for query, listed, reward in zip(queries, shown, rewards, strict=True):
        reward = np.asarray(reward, dtype=np.float64)
        if reward.shape != (len(listed),):
            raise DataError(f"needs one reward per shown item ({len(listed)})", field="reward", value=reward.shape)
        frames.append(
            pd.DataFrame(
                {
                    "round": query.request_id,
                    "user": query.user_id,
                    "position": np.arange(len(listed)),
                    "item": listed.ids,
                    "reward": reward,
                    "propensity": listed.column(Columns.Propensity),
                    QUERY_COLUMN: _query_json(query),
                }
            )
        )
    columns = (*PIPELINE_LOG_COLUMNS, QUERY_COLUMN)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: [] for c in columns})
    if version is not None:
        out[VERSION_COLUMN] = version
    return out


def logged_versions(log: pd.DataFrame) -> list[str]:
    """The pipeline versions a log's rows name, sorted; empty when it has no `pipeline_version`."""
    if VERSION_COLUMN not in log.columns:
        return []
    return sorted({str(v) for v in log[VERSION_COLUMN].dropna()})


def replay(target: Pipeline, log: pd.DataFrame) -> tuple[ImpressionLog, SlotTarget]:
    """The log as an `ImpressionLog` over the target's catalogue, and the target's probability of
    every pool item at every logged row's slot (module docstring).

    Each round is one request: the round's user (their history in the target's data unless the
    `query` column gives a session history; an unknown user gets the model's fallback), the rest of
    the logged query, k = the round's slots, request id = the round. Probabilities involve no draws,
    so requests alike in all of these but the id are replayed once.

    Raises:
        DataError: a missing column, an item the catalogue lacks, a bad position, a request with two
            users or a slot twice, a `query` that is not a JSON object of `QUERY_FIELDS`, or a request
            where the target would fill fewer slots than were logged (it cannot be compared slot by slot).
    """
    missing = [c for c in PIPELINE_LOG_COLUMNS if c not in log.columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; a pipeline log has {list(PIPELINE_LOG_COLUMNS)}", field=missing[0]
        )
    item = target.data.items.index(log["item"].to_numpy())
    unknown = np.flatnonzero(item < 0)
    if len(unknown):
        row = int(unknown[0])
        raise DataError("is not in the target's catalogue", field="item", row=row, value=log["item"].iloc[row])
    codes, labels = pd.factorize(log["round"], sort=False)
    impressions = ImpressionLog.sized(
        round=codes,
        position=log["position"].to_numpy(),
        item=item,
        reward=log["reward"].to_numpy(),
        propensity=log["propensity"].to_numpy(),
        n_items=target.data.n_items,
    )
    return impressions, _target_rows(target, log, impressions, labels)


def _target_rows(target: Pipeline, log: pd.DataFrame, impressions: ImpressionLog, labels: pd.Index) -> SlotTarget:
    """Each row's target pool and its probabilities at the row's slot, padded to the widest pool."""
    codes = impressions.round
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(labels) + 1))  # rows of round r: order[starts[r]:starts[r+1]]
    users = log["user"].astype(object).where(log["user"].notna(), None).to_numpy()  # None: a session
    queries = _query_texts(log)
    pools: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(log)
    columns: list[np.ndarray] = [np.empty(0)] * len(log)
    replayed: dict[tuple[str | None, int, str | None], tuple[ItemList, np.ndarray]] = {}  # no draws: one per alike
    for code, label in enumerate(labels):
        rows = order[starts[code] : starts[code + 1]]
        slots = impressions.position[rows]
        _check_round(users[rows], slots, rows, label)
        user = users[rows[0]]
        key = (None if user is None else str(user), int(slots.max()) + 1, queries[rows[0]])
        if key not in replayed:
            replayed[key] = target.slot_distribution(_query(key, str(label), int(rows[0])))
        pool, probabilities = replayed[key]  # (c, m)
        k = key[1]
        if probabilities.shape[1] < k:
            raise DataError(
                f"the target fills {probabilities.shape[1]} slots of this request, the log shows {k}",
                field="round",
                row=int(rows[0]),
                value=label,
            )
        for row, slot in zip(rows.tolist(), slots.tolist(), strict=True):
            pools[row], columns[row] = pool.index, probabilities[:, slot]
    width = max((len(p) for p in pools), default=0)
    items = np.full((len(log), width), -1, dtype=np.int64)
    probability = np.zeros((len(log), width))
    for row, (pool_items, column) in enumerate(zip(pools, columns, strict=True)):
        items[row, : len(pool_items)], probability[row, : len(column)] = pool_items, column
    return SlotTarget(items, probability)


def _check_round(users: np.ndarray, slots: np.ndarray, rows: np.ndarray, label: object) -> None:
    """One user per request, and each slot of it logged once."""
    other = np.flatnonzero(users != users[0])
    if len(other):
        raise DataError(
            f"request {label!r} has rows of more than one user",
            field="user",
            row=int(rows[other[0]]),
            value=users[other[0]],
        )
    seen, again = np.unique(slots, return_index=True)[1], np.ones(len(slots), dtype=bool)
    again[seen] = False
    if again.any():
        at = int(np.argmax(again))
        raise DataError(
            f"request {label!r} logs this slot twice", field="position", row=int(rows[at]), value=int(slots[at])
        )


def expected_weights(target: SlotTarget, logging: SlotTarget, chunk: int = 5_000) -> np.ndarray:
    """Each row's share of the target's probability on items the logging policy gives a positive
    probability at that row's slot (both replayed on the same log), shape (n,): the row's importance
    weight expected under the logging policy, which `SlotTarget.expected_weight` takes."""
    if target.items.shape[0] != logging.items.shape[0]:
        raise DataError("the two targets must be replayed on the same log", field="rows", value=logging.items.shape[0])
    shares = []
    for start in range(0, len(target.items), chunk):
        rows = slice(start, start + chunk)
        reachable = np.where(logging.probability[rows] > 0, logging.items[rows], -2)  # (n, c_l); -2 matches nothing
        seen = (target.items[rows][:, :, None] == reachable[:, None, :]).any(axis=2)  # (n, c_t)
        shares.append(np.where(seen, target.probability[rows], 0.0).sum(axis=1))
    return np.concatenate(shares) if shares else np.zeros(0)


def blind_mass(target: SlotTarget, logging: SlotTarget) -> float:
    """Mean share, over the log's rows, of the target's probability on items the logging policy gives
    probability 0 at that row's slot (both replayed on the same log): the part of the target no
    importance weight can see."""
    shares = expected_weights(target, logging)
    return float(1.0 - shares.mean()) if len(shares) else 0.0


def _query_json(query: Query) -> str | None:
    """The query's fields beyond user, k and request id as a JSON object (None when it sets none)."""
    fields = {name: getattr(query, name) for name in QUERY_FIELDS if getattr(query, name)}
    return json.dumps(fields, sort_keys=True, default=json_default) if fields else None


def _query_texts(log: pd.DataFrame) -> np.ndarray:
    """The `query` column as text or None (missing), shape (n,); any other value is refused with its row."""
    if QUERY_COLUMN not in log.columns:
        return np.full(len(log), None, dtype=object)
    column = log[QUERY_COLUMN].astype(object)
    texts = column.where(column.notna(), None).to_numpy()
    for row, text in enumerate(texts):
        if text is not None and not isinstance(text, str):
            raise DataError("must be a JSON object as text, or empty", field=QUERY_COLUMN, row=row, value=text)
    return texts


def _query(key: tuple[str | None, int, str | None], request_id: str, row: int) -> Query:
    """The `Query` of a logged request: its user, k and the `query` column's fields."""
    user, k, text = key
    try:
        fields = json.loads(text) if text else {}
    except ValueError as exc:
        raise DataError(f"must be a JSON object: {exc}", field=QUERY_COLUMN, row=row, value=text) from exc
    if not isinstance(fields, dict):
        raise DataError("must be a JSON object", field=QUERY_COLUMN, row=row, value=text)
    unknown = set(fields) - set(QUERY_FIELDS)
    if unknown:
        raise DataError(f"may hold only {list(QUERY_FIELDS)}", field=QUERY_COLUMN, row=row, value=sorted(unknown))
    if fields.get("history") is not None:
        fields["history"] = tuple(str(item) for item in fields["history"])
    return Query(user_id=user or None, k=k, request_id=request_id, **fields)
