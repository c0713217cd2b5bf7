"""How faithful and how fast each model's explanations are, on MovieLens-100K.

Every model is fitted on all of ml-100k with its defaults. For a sample of users, each model's top
recommendation is explained by every method the model has; the history item a method ranks first is
then removed, and so is a history item drawn at random (the same draw for every method), each time
rescoring the user's history as an anonymous session. A faithful method's first item lowers the
score more than a random one. The same with the method's first three items against three random
ones: removed together (what they add between them, which one-at-a-time removal misses where two
items stand in for each other), and kept alone (how far the score with only those three falls
short of the full score). Also reported: how often the first item is the newest one, and the
median time to explain a request's 10 recommendations.

    python benchmarks/bench_explain.py [--every 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from common import replace_readme_section, shared_data, write_results

from lmrec.data.dataset import Dataset, Histories
from lmrec.data.ingest import load_dataset
from lmrec.models import create_model
from lmrec.models.base import Recommender

MODELS = ("ease", "itemknn", "als", "bpr", "content", "sasrec")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=4, help="Explain every n-th user.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args()
    path = shared_data("ml-100k")
    if path is None:
        return
    torch.set_num_threads(args.threads)
    data, _ = load_dataset(path)
    rows = []
    for name in args.models:
        started = time.perf_counter()
        model = create_model(name).fit(data)
        fit_seconds = time.perf_counter() - started
        for method in model.explain_methods:
            row = measure(model, method, data, args.every)
            rows.append({"model": name, "method": method, "fit_seconds": round(fit_seconds, 1), **row})
            print(
                f"{name:<8} {method:<9} top {row['top_drop']:+.4f} random {row['random_drop']:+.4f} "
                f"share {row['top_beats_random']:.3f} "
                f"three removed {row['top3_drop']:+.4f} / {row['random3_drop']:+.4f} "
                f"alone {row['top3_gap']:+.4f} / {row['random3_gap']:+.4f} "
                f"newest {row['top_is_newest']:.3f} {row['ms_per_request']:.1f} ms",
                flush=True,
            )
    payload = {"dataset": "ml-100k", "every": args.every, "threads": args.threads, "rows": rows}
    out = write_results("explain", payload)
    replace_readme_section("explain", readme_table(rows, args.every))
    print(f"wrote {out}")


def measure(model: Recommender[Any], method: str, data: Dataset, every: int) -> dict[str, Any]:
    """Removal drops of the first-ranked and a random history item, over every `every`-th user."""
    rng = np.random.default_rng(0)  # the same random item per user for every method
    triples = np.random.default_rng(1)  # the same three random items too
    top_drops, random_drops, newest, seconds = [], [], [], []
    three: dict[str, list[float]] = {"top3_drop": [], "random3_drop": [], "top3_gap": [], "random3_gap": []}
    for user in range(0, data.n_users, every):
        history = model.history.row(user)
        window = min(len(history), model.history_window or len(history))
        other = len(history) - window + int(rng.integers(window))
        others = len(history) - window + triples.choice(window, size=3, replace=False)
        shown = model.recommend(str(model.users.id(user)), k=10)
        started = time.perf_counter()
        weights = model.explain(history, shown.index, method)  # (10, W)
        seconds.append(time.perf_counter() - started)
        firsts = len(history) - window + np.argsort(-weights[0], kind="stable")[:3]  # first is argmax's pick
        first = int(firsts[0])
        variants = Histories.from_lists(
            [
                history,
                np.delete(history, first),
                np.delete(history, other),
                *(np.delete(history, three) for three in (firsts, others)),
                *(history[np.sort(three)] for three in (firsts, others)),
            ]
        )
        full, without_first, without_other, *rest = model.score_histories(variants)[:, shown.index[0]]
        top_drops.append(full - without_first)
        random_drops.append(full - without_other)
        for key, score in zip(three, rest, strict=True):
            three[key].append(full - score)
        newest.append(first == len(history) - 1)
    top, rand = np.array(top_drops, dtype=np.float64), np.array(random_drops, dtype=np.float64)
    return {
        "users": len(top),
        "top_drop": round(float(top.mean()), 5),
        "random_drop": round(float(rand.mean()), 5),
        "top_beats_random": round(float((top > rand).mean()), 3),
        **{key: round(float(np.mean(values)), 5) for key, values in three.items()},
        "top_is_newest": round(float(np.mean(newest)), 3),
        "ms_per_request": round(1000 * statistics.median(seconds), 2),
    }


def readme_table(rows: list[dict[str, Any]], every: int) -> str:
    lines = [
        f"MovieLens-100K, every model fitted on all of it with its defaults; for every {every}th user "
        f"({rows[0]['users']} users) the top recommendation is explained, then the history item a method "
        "ranks first is removed, and a random one (the same draw for every method); drops are in each "
        "model's own score units, so compare within a model. The same for the first three items against three "
        "random ones, removed together (larger is better) and kept alone (the score's shortfall; smaller is better) "
        "(`python benchmarks/bench_explain.py`, one thread):",
        "",
        "| model | method | drop: first removed | drop: random removed | first > random "
        "| drop: first 3 removed | drop: random 3 removed | shortfall: first 3 alone | shortfall: random 3 alone "
        "| first is the newest | ms per request (10 items) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['method']} | {r['top_drop']:+.4f} | {r['random_drop']:+.4f} | "
            f"{r['top_beats_random']:.1%} | {r['top3_drop']:+.4f} | {r['random3_drop']:+.4f} | "
            f"{r['top3_gap']:+.4f} | {r['random3_gap']:+.4f} | {r['top_is_newest']:.1%} | {r['ms_per_request']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
