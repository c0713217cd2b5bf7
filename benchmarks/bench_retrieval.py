"""Latency of scoring one user against a 50,000-item catalogue with SASRec + a FAISS index.

A SASRec model is fitted briefly (latency does not depend on how well it is trained) on a
synthetic shop of 50,000 products; then, one request at a time, a user's recent history is read
by the transformer and the top 10 items are taken from the index. Reported: the median and 95th
percentile per request for the exact flat index, HNSW, and brute-force numpy scoring, each
measured side by side in the same run.

    python benchmarks/bench_retrieval.py [--items 50000] [--requests 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import replace_readme_section, write_results

from lmrec.data.dataset import Dataset
from lmrec.data.synthetic import ShopConfig, generate_shop, validated_tables
from lmrec.models.sequential import SASRec
from lmrec.pipeline.index import VectorIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    shop = generate_shop(ShopConfig(n_items=args.items, n_users=args.users, seed=0))
    tables = validated_tables(shop)
    data = Dataset.from_frames(tables["events"].valid, tables["items"].valid, tables["users"].valid)
    model = SASRec({"item_parts": ["id"], "epochs": 1, "max_len": 50, "dim": 64, "loss": "sampled"}).fit(data)
    torch.set_num_threads(1)  # one request per core, as a serving worker runs
    histories = data.histories()
    rows = np.flatnonzero(histories.lengths() > 0)[: args.requests]
    item_vectors = model.item_vectors()
    indexes = {"flat": VectorIndex({"kind": "flat"}).build(item_vectors)}
    indexes["hnsw"] = VectorIndex({"kind": "hnsw"}).build(item_vectors)

    def request(kind: str, b: int) -> np.ndarray:
        one = histories.take(np.array([b]))
        user = model.user_vectors(one)  # (1, D)
        if kind == "numpy":
            scores = user @ item_vectors.T  # (1, I)
            return np.argpartition(-scores[0], 10)[:10]
        return indexes[kind].search(user, 10)[1][0]

    timings: dict[str, list[float]] = {"flat": [], "hnsw": [], "numpy": []}
    for b in rows:  # interleaved, so the three see the same machine load
        for kind in timings:
            start = time.perf_counter()
            request(kind, int(b))
            timings[kind].append((time.perf_counter() - start) * 1000.0)
    transformer = []
    for b in rows[:100]:
        start = time.perf_counter()
        model.user_vectors(histories.take(np.array([int(b)])))
        transformer.append((time.perf_counter() - start) * 1000.0)
    exact = np.stack([request("flat", int(b)) for b in rows[:50]])
    approx = np.stack([request("hnsw", int(b)) for b in rows[:50]])
    recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]))

    results = {
        kind: {"median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95))} for kind, t in timings.items()
    }
    results["transformer_only"] = {"median_ms": float(np.median(transformer))}
    payload = {"items": args.items, "requests": len(rows), "k": 10, "hnsw_recall@10": recall, "latency": results}
    write_results("retrieval", payload)
    lines = [
        f"One request = read the user's last 50 items with SASRec (d=64, 2 blocks) + top 10 of {args.items:,} items,"
        f" one thread, {len(rows)} requests interleaved (`python benchmarks/bench_retrieval.py`):",
        "",
        "| top-k from | median ms | p95 ms |",
        "|---|---|---|",
    ]
    names = {"flat": "FAISS flat (exact)", "hnsw": f"FAISS HNSW (recall@10 {recall:.3f})", "numpy": "numpy brute force"}
    for kind, label in names.items():
        lines.append(f"| {label} | {results[kind]['median_ms']:.2f} | {results[kind]['p95_ms']:.2f} |")
    lines.append(f"| (the transformer alone) | {results['transformer_only']['median_ms']:.2f} | |")
    replace_readme_section("retrieval", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
