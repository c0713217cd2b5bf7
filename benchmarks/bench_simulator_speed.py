"""How fast is the simulator? 100,000 requests of each built-in policy, timed, in each world.

Issue #4, point 4 asks for 100,000 impressions (requests: one shown list of 10) of one policy in
under a minute on this machine. Each world is built once, as `bench_balance.py` builds its worlds
(ml-1m and amazon-games: EASE truth, the same world and agent settings) and as `lmrec simulate
--world shop` builds the shop and its agent; then every policy of `BUILT_IN_POLICIES` at its
default settings serves 100,000 requests `--repeats` times, each time from the same start (the
agent is reset), and the table gives the median of the simulation loop's own time
(`SimulationResult.seconds`: choosing, showing, clicking and learning; building the world and
fitting the agent are reported apart). The loop runs its BLAS single-threaded; run the script with
the thread variables set to 1 so the world and agent fits do too:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_simulator_speed.py

Writes benchmarks/results/simulator_speed.json and the README table between the `simulator-speed`
markers. A run over some of the worlds (`--worlds shop ml-1m`) keeps the others' results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch
from bench_balance import TRUTH
from bench_balance import build as balance_world
from common import RESULTS, peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.ingest import load_dataset
from lmrec.models import create_model
from lmrec.simulation.agents import Agent
from lmrec.simulation.simulator import BUILT_IN_POLICIES, simulate
from lmrec.simulation.worlds import ShopWorld, World

WORLD_ORDER = ("shop", "ml-1m", "amazon-games")
ROUNDS = 100_000
TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", nargs="+", default=list(WORLD_ORDER))
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs per policy (the median is reported).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    worlds = {}
    for name in args.worlds:
        built = build(name, args.seed)
        if built is None:
            continue
        world, agent, build_seconds = built
        print(f"{name}: {world.n_users:,} users, {world.n_items:,} items; built in {build_seconds:.0f}s", flush=True)
        policies = {}
        for policy in BUILT_IN_POLICIES:
            runs = []
            for _ in range(args.repeats):
                result = simulate(world, agent, policy, None, {"rounds": ROUNDS, "seed": args.seed})
                runs.append(round(result.seconds, 2))
            policies[policy] = {"median_seconds": statistics.median(runs), "seconds": runs}
            print(f"  {policy:12s} {statistics.median(runs):6.1f}s  (runs: {runs})", flush=True)
        worlds[name] = {
            "peak_rss_mib": peak_rss_mib(),  # the process's, so far: a run over several worlds carries it on
            "users": world.n_users,
            "items": world.n_items,
            "build_seconds": round(build_seconds, 1),
            "repeats": args.repeats,
            "policies": policies,
        }
    # read the other worlds' results only now, so that runs over different worlds can go side by side
    path = RESULTS / "simulator_speed.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    kept = {k: v for k, v in old.get("worlds", {}).items() if k not in worlds and old.get("rounds") == ROUNDS}
    payload = {"rounds": ROUNDS, "target_seconds": TARGET_SECONDS, "worlds": {**kept, **worlds}}
    write_results("simulator_speed", payload)
    replace_readme_section("simulator-speed", table(payload))


def build(name: str, seed: int) -> tuple[World, Agent, float] | None:
    """The world `name` with a fitted agent, and the seconds both took; None when its data is absent."""
    started = time.perf_counter()
    if name == "shop":
        # the shop's default size, as `lmrec simulate --world shop` generates it
        world: World = ShopWorld.build({"horizon": ROUNDS, "seed": seed, "shop": {"seed": seed}})
        agent = Agent({"seed": seed}).fit(world)  # `lmrec simulate`'s agent
        return world, agent, time.perf_counter() - started
    data_path = shared_data(name)
    if data_path is None:
        return None
    dataset, _ = load_dataset(data_path)
    truth = create_model("ease", TRUTH).fit(dataset)
    world, agent, _ = balance_world(name, dataset, truth, seed, ROUNDS)
    return world, agent, time.perf_counter() - started


def table(payload: dict[str, Any]) -> str:
    """The README table: median seconds per 100,000 requests, per world and policy."""
    worlds = payload["worlds"]
    lines = [
        f"Seconds for {payload['rounds']:,} requests (lists of 10) of each built-in policy at its default settings, "
        "the simulation loop alone (median of the repeats; one thread; `python benchmarks/bench_simulator_speed.py`). "
        f"Target (issue 4, point 4): under {payload['target_seconds']:.0f} s.",
        "",
        "| world | users | items | build s | " + " | ".join(BUILT_IN_POLICIES) + " |",
        "|---|---|---|---|" + "---|" * len(BUILT_IN_POLICIES),
    ]
    order = {name: i for i, name in enumerate(WORLD_ORDER)}
    for name, entry in sorted(worlds.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        cells = [f"{entry['policies'][p]['median_seconds']:.1f}" for p in BUILT_IN_POLICIES]
        head = f"| {name} | {entry['users']:,} | {entry['items']:,} | {entry['build_seconds']:.0f} | "
        lines.append(head + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
