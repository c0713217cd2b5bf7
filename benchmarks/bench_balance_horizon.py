"""Does a longer horizon, or a larger share of launches, let exploration pay where the benchmark does not?

Issue #4 asks for at least 100,000 impressions; `bench_balance.py` runs exactly that, and on
amazon-games no policy gains clicks there. This probe runs one world of `bench_balance.py` (same
world settings, agent and truth) on other terms, on one tuning seed (a diagnostic, never a reported
result): a longer horizon (`--rounds`), so every launch has more requests in which to be learned, or
another share of the items held back as launches (`--new-item-share`; amazon-games' benchmark world
holds back 4%, ml-1m's and the simulator's default 20%), or with the agent reading a new item's
similarity to the user another way (`--new-item-similarity`, `AgentConfig.new_item_similarity`), or
with a low-rank truth in place of EASE (`--truth als`: ALS with 64 factors fitted on all the data).
It runs greedy, the `new_oracle` ceiling,
and the exploring settings that matter on that world, each at the settings `bench_balance.py --tune`
chose for it (`balance_tuning.json`): the cold budget with and without its `reach` gate, UCB and
Thompson. New items are released over the first half of the horizon, as in the benchmark. Per
policy: the targets of `bench_balance.py` against greedy, and the expected-click ratio of each 10%
window.

    python benchmarks/bench_balance_horizon.py --dataset amazon-games --rounds 500000 --seed 100
    python benchmarks/bench_balance_horizon.py --dataset amazon-games --rounds 100000 --new-item-share 0.2
    python benchmarks/bench_balance_horizon.py --dataset amazon-games --rounds 100000 --new-item-similarity ease
    python benchmarks/bench_balance_horizon.py --dataset amazon-games --rounds 100000 --truth als

Writes benchmarks/results/balance_horizon_<dataset>.json, with `_share<S>`, `_<similarity>` and
`_<truth>` added to the name when those options are given.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench_balance import TRUTH, TUNING_SEEDS, build, load_tuning
from common import RESULTS, peak_rss_mib, shared_data, write_results

from lmrec.data.ingest import load_dataset
from lmrec.models import create_model
from lmrec.simulation.report import compare_with, policy_metrics
from lmrec.simulation.simulator import simulate

KEYS = ("clicks_lift", "expected_clicks_lift", "times_sooner_to_reach", "worst_window_ctr_ratio")
#: The world's truth model and its config, by name: the benchmark's EASE, or a low-rank ALS.
TRUTHS: dict[str, tuple[str, dict[str, Any]]] = {
    "ease": ("ease", TRUTH),
    "als": ("als", {"factors": 64, "seed": 0, "num_threads": 1}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-games", choices=["amazon-games", "ml-1m"])
    parser.add_argument("--rounds", type=int, default=500_000, help="Requests in the horizon.")
    parser.add_argument("--seed", type=int, default=TUNING_SEEDS[0], choices=TUNING_SEEDS)
    parser.add_argument(
        "--new-item-share", type=float, help="Share of the items held back as launches (default: the benchmark's)."
    )
    parser.add_argument(
        "--new-item-similarity", choices=["profile", "ease"], help="The agent's sim(u, i) of new items."
    )
    parser.add_argument("--truth", choices=sorted(TRUTHS), help="The world's truth model (default: ease).")
    args = parser.parse_args()
    overrides = {} if args.new_item_share is None else {"new_item_share": args.new_item_share}
    truth_model, truth_config = TRUTHS[args.truth or "ease"]
    overrides |= {"truth_model": truth_model, "truth_config": truth_config}
    reading = {} if args.new_item_similarity is None else {"new_item_similarity": args.new_item_similarity}
    path = shared_data(args.dataset)
    if path is None:
        return
    tuned = load_tuning(RESULTS / "balance_tuning.json").get(args.dataset)
    if tuned is None:
        raise SystemExit(f"{args.dataset} has no tuned settings; run `bench_balance.py --tune` first")
    dataset, _ = load_dataset(path)
    started = time.perf_counter()
    truth = create_model(truth_model, truth_config).fit(dataset)
    world, agent, _ = build(args.dataset, dataset, truth, args.seed, args.rounds, overrides, reading)
    launched = dataset.item_counts()[world.new_items].sum() / dataset.n_interactions  # their share of the demand
    print(f"{args.dataset}: built in {time.perf_counter() - started:.0f}s", flush=True)
    sim = {"rounds": args.rounds, "seed": args.seed}
    greedy = policy_metrics(simulate(world, agent, "greedy", {}, sim))
    runs = {}
    for label, (policy, config) in compared(tuned).items():
        metrics = policy_metrics(simulate(world, agent, policy, config, sim))
        versus = compare_with({"greedy": greedy, label: metrics})[label]
        windows = [a / b for a, b in zip(metrics["expected_ctr_windows"], greedy["expected_ctr_windows"], strict=True)]
        runs[label] = {
            "policy": policy,
            "config": config,
            **{k: versus[k] for k in KEYS},
            "expected_ctr_window_ratios": [round(r, 4) for r in windows],
            "seconds": metrics["seconds"],
        }
        print(f"  {label}: {runs[label]}", flush=True)
    write_results(
        f"balance_horizon_{args.dataset}"
        + ("" if args.new_item_share is None else f"_share{args.new_item_share}")
        + ("" if args.new_item_similarity is None else f"_{args.new_item_similarity}")
        + ("" if args.truth is None else f"_{args.truth}"),
        {
            "dataset": args.dataset,
            "rounds": args.rounds,
            "seed": args.seed,
            "world": world.describe(),
            "agent": agent.config.model_dump(mode="json"),
            "new_item_interaction_share": round(float(launched), 3),
            "greedy": {"clicks": greedy["cumulative_reward"], "ctr": greedy["ctr"], "seconds": greedy["seconds"]},
            "runs": runs,
            "peak_rss_mib": round(peak_rss_mib()),
        },
    )


def compared(tuned: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """label -> (policy, config): the ceiling and the tuned exploring settings, the cold budget also
    without its gate (on amazon-games the gated one never opens)."""
    gated = tuned["cold_budget"]
    return {
        "new_oracle": ("new_oracle", None),
        "cold_budget": ("cold_budget", {k: v for k, v in gated.items() if k != "reach"}),
        f"cold_budget, reach={gated['reach']}": ("cold_budget", gated),
        "ucb": ("ucb", tuned["ucb"]),
        "thompson": ("thompson", tuned["thompson"]),
    }


if __name__ == "__main__":
    main()
