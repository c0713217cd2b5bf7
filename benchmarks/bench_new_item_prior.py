"""How wide should the balance agent's prior on a new item's own offset be? A probe across worlds.

The agent's head (`lmrec.simulation.agents.HybridHead`) gives every new item its own offset δ_i with
prior N(0, `offset_prior_std`²), in attraction units (0.05 by default). The shop world launches a few
hits, products that attract most users far more than the usual new product (a mean attraction of 0.3
to 0.7 where the median is 0.05), which so narrow a prior shrinks to almost nothing until they have
had many impressions. This probe runs the exploring policies of `bench_balance.py` (its grid's
settings) at three widths of that prior, side by side with greedy on the same users and random
numbers: in the shop world, and in the semi-synthetic worlds on a tuning seed of `bench_balance.py`
(never a test seed), so the width that helps one world can be checked against the others.

    python benchmarks/bench_new_item_prior.py                          # the shop, seeds 0, 1, 2
    python benchmarks/bench_new_item_prior.py --world amazon-games     # tuning seed 100
    python benchmarks/bench_new_item_prior.py --world ml-1m

Writes benchmarks/results/new_item_prior_<world>.json (no README table: docs/exploration.md reads it).
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench_balance import (
    AGENT,
    AIMED_SLOTS,
    BOTTOM_SLOTS,
    SHOP,
    TUNING_SEEDS,
    WORLDS,
    build,
    world_settings,
    world_source,
)
from common import write_results

from lmrec.simulation.report import compare_with, policy_metrics
from lmrec.simulation.simulator import simulate

#: Prior std of a new item's own offset, in attraction units (the agent's default first).
WIDTHS = (0.05, 0.2, 0.5)
#: Exploring policies and their settings (from `bench_balance.GRID`), by the name they are reported under.
POLICIES: dict[str, tuple[str, dict[str, Any]]] = {
    "epsilon": ("epsilon", {"epsilon": 0.02}),
    "thompson": ("thompson", {"scale": 0.2}),
    "ucb": ("ucb", {"beta": 0.15}),
    "cold budget, bottom slots": ("cold_budget", BOTTOM_SLOTS),
    "cold budget, aimed": ("cold_budget", {**AIMED_SLOTS, "pick_beta": 0.3}),
    "cold budget, aimed, reach 10": ("cold_budget", {**AIMED_SLOTS, "pick_beta": 0.15, "reach": 10}),
}
SHOP_SEEDS = (0, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default=SHOP, choices=[SHOP, *sorted(WORLDS)])
    parser.add_argument("--rounds", type=int, default=100_000, help="Requests per run.")
    parser.add_argument("--seeds", type=int, nargs="+", help="World seeds (default: shop 0 1 2, else tuning seed 100).")
    args = parser.parse_args()
    seeds = args.seeds or list(SHOP_SEEDS if args.world == SHOP else TUNING_SEEDS[:1])
    source = world_source(args.world)
    if source is None:
        return
    runs = {str(seed): run_seed(args.world, source, seed, args.rounds) for seed in seeds}
    lifts = {
        f"{width}": {
            name: statistics.median(run["widths"][f"{width}"][name]["clicks_lift"] for run in runs.values())
            for name in POLICIES
        }
        for width in WIDTHS
    }
    print("median clicks vs greedy over the seeds:")
    for width, by_policy in lifts.items():
        print(f"  offset prior std {width}: " + ", ".join(f"{n} {v:+.1%}" for n, v in by_policy.items()))
    write_results(
        f"new_item_prior_{args.world}",
        {
            "world": args.world,
            "world_settings": world_settings(args.world),
            "rounds": args.rounds,
            "agent": AGENT,
            "policies": {name: {"policy": p, "config": c} for name, (p, c) in POLICIES.items()},
            "median_clicks_lift": lifts,
            "seeds": runs,
        },
    )


def run_seed(world_name: str, source: tuple[Any, Any], seed: int, rounds: int) -> dict[str, Any]:
    """Greedy, `new_oracle` and every policy of `POLICIES` at every width of `WIDTHS`, on one seed of
    the world `bench_balance.build` makes from `source` (its `world_source`)."""
    world, agent, seconds = build(world_name, *source, seed, rounds)
    print(f"{world_name} seed {seed}: built in {seconds:.0f}s", flush=True)
    sim = {"rounds": rounds, "seed": seed}
    greedy = policy_metrics(simulate(world, agent, "greedy", {}, sim))
    told = policy_metrics(simulate(world, agent, "new_oracle", None, sim))
    out: dict[str, Any] = {
        "greedy_clicks": greedy["cumulative_reward"],
        "new_oracle_clicks_lift": compare_with({"greedy": greedy, "new_oracle": told})["new_oracle"]["clicks_lift"],
        "widths": {},
    }
    print(f"  new_oracle {out['new_oracle_clicks_lift']:+.1%}", flush=True)
    for width in WIDTHS:
        widened = agent.retuned(offset_prior_std=width)
        by_policy = {}
        for name, (policy, config) in POLICIES.items():
            metrics = policy_metrics(simulate(world, widened, policy, config, sim))
            versus = compare_with({"greedy": greedy, policy: metrics})
            by_policy[name] = {
                k: versus[policy][k] for k in ("clicks_lift", "times_sooner_to_reach", "worst_window_ctr_ratio")
            }
            print(f"  width {width} {name}: clicks {versus[policy]['clicks_lift']:+.1%}", flush=True)
        out["widths"][f"{width}"] = by_policy
    return out


if __name__ == "__main__":
    main()
