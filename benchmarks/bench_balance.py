"""Does exploration pay? Every policy side by side in semi-synthetic worlds with new items arriving.

Worlds are built from ml-1m and amazon-games (`lmrec.simulation.worlds.SemiSyntheticWorld`, the same
settings for both: `WORLD` over the defaults, that is 20% of the items held back and released over
the first half of the horizon, taste drift 0.25, and the held-back items drawn in proportion to
their interactions, because launches are disproportionately the items people want: drawn uniformly,
amazon-games' held-back games are mostly long-tail items each wanted by a handful of users, whom
exploration cannot find in 100 impressions, so it gains nothing there). The recommender under test
is the same for every policy (`lmrec.simulation.agents.Agent`: EASE on the history plus the online
hybrid Bayesian head), and every policy meets the same users and the same random numbers. Targets
of issue #4, point 5, checked per policy against greedy:

- at least 10% more clicks;
- new items reach 100 impressions at least 5x sooner (Kaplan–Meier medians; a lower bound when
  greedy's median is censored at the end of the horizon);
- no 10% window of the horizon with a click rate more than 5% below greedy's.

    python benchmarks/bench_balance.py --tune     # choose each exploring policy's settings on the tuning seed
    python benchmarks/bench_balance.py            # the reported runs on the test seeds, with the tuned settings

`--tune` writes benchmarks/results/balance_tuning.json; the default run reads it (falling back to
`DEFAULT_POLICY_CONFIGS`; refusing a tuning made in other world settings) and writes
benchmarks/results/balance.json, one PNG per dataset and seed, and the README table between the
`balance` markers. The tuning seed is never a reported seed. Fitting EASE on amazon-games (16,859
items, a dense inverse) takes about 7 minutes on one thread, twice per world: the truth, then the
agent's ranker on the history.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import RESULTS, peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.ingest import load_dataset
from lmrec.models import create_model
from lmrec.simulation.agents import Agent
from lmrec.simulation.report import compare_with, plot_simulation, policy_metrics
from lmrec.simulation.simulator import BUILT_IN_POLICIES, DEFAULT_POLICY_CONFIGS, simulate
from lmrec.simulation.worlds import SemiSyntheticWorld

DATASETS = ("ml-1m", "amazon-games")
TUNING_SEED = 100
TRUTH = {"l2": 200.0}
#: World settings over the `SemiSyntheticConfig` defaults, the same for every dataset (module docstring).
WORLD: dict[str, Any] = {"new_item_sampling": "popularity"}
AGENT: dict[str, Any] = {"user_dimension": 16}
#: Candidate settings of each exploring policy, tried on the tuning seed. Epsilon and softmax keep
#: only their mildest values: larger ones lost clicks on every world tried. The cold budget uses the
#: bottom slots, where a slot costs the fewest clicks (position bias) yet counts a full impression.
GRID: dict[str, list[dict[str, Any]]] = {
    "epsilon": [{"epsilon": 0.02}],
    "softmax": [{"temperature": 0.003}],
    "thompson": [{"scale": s} for s in (0.15, 0.2)],
    "ucb": [{"beta": b} for b in (0.15, 0.2, 0.25)],
    "cold_budget": [
        {"budget": 2, "slots": [8, 9], "rate": 1.0},
        {"budget": 3, "slots": [7, 8, 9], "rate": 1.0},
        {"budget": 2, "slots": [8, 9], "rate": 1.0, "inner": "ucb", "inner_config": {"beta": 0.2}},
    ],
}
TARGETS = {"clicks_lift": 0.10, "times_sooner_to_reach": 5.0, "worst_window_ctr_ratio": 0.95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--rounds", type=int, default=100_000, help="Requests (impressions) per run.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="Reported (test) seeds.")
    parser.add_argument("--tune", action="store_true", help="Tune the exploring policies on the tuning seed.")
    args = parser.parse_args()
    if TUNING_SEED in args.seeds:
        raise SystemExit(f"seed {TUNING_SEED} is the tuning seed; report other seeds")
    tuned_path = RESULTS / "balance_tuning.json"
    tuned = {} if args.tune else load_tuning(tuned_path)
    payload: dict[str, Any] = {"rounds": args.rounds, "tuning_seed": TUNING_SEED, "world": WORLD, "datasets": {}}
    tuning: dict[str, Any] = {
        "rounds": args.rounds,
        "seed": TUNING_SEED,
        "world": WORLD,
        "grid": GRID,
        "runs": {},
        "chosen": {},
    }
    for name in args.datasets:
        path = shared_data(name)
        if path is None:
            continue
        dataset, _ = load_dataset(path)
        started = time.perf_counter()
        truth = create_model("ease", TRUTH).fit(dataset)
        print(f"{name}: {dataset}; truth fitted in {time.perf_counter() - started:.0f}s", flush=True)
        if args.tune:
            runs, chosen = tune(dataset, truth, args.rounds)
            tuning["runs"][name], tuning["chosen"][name] = runs, chosen
            tuned_path.parent.mkdir(parents=True, exist_ok=True)
            tuned_path.write_text(json.dumps(tuning, indent=2) + "\n")
            continue
        configs = {p: tuned.get(name, {}).get(p, DEFAULT_POLICY_CONFIGS[p]) for p in BUILT_IN_POLICIES}
        payload["datasets"][name] = {
            str(s): run_seed(name, dataset, truth, s, args.rounds, configs) for s in args.seeds
        }
    if not args.tune:
        write_results("balance", payload)
        replace_readme_section("balance", table(payload))


def load_tuning(path: Path) -> dict[str, Any]:
    """The chosen settings of `--tune` ({} when it has not run); refuses a tuning made in other worlds."""
    if not path.is_file():
        return {}
    tuning = json.loads(path.read_text())
    if tuning.get("world", {}) != WORLD:
        raise SystemExit(f"{path} was tuned in world settings {tuning.get('world', {})}, not {WORLD}; rerun --tune")
    return dict(tuning["chosen"])


def build(dataset: Any, truth: Any, seed: int, rounds: int) -> tuple[SemiSyntheticWorld, Agent, float]:
    started = time.perf_counter()
    world = SemiSyntheticWorld.build(dataset, {**WORLD, "horizon": rounds, "seed": seed}, truth=truth)
    agent = Agent({**AGENT, "seed": seed}).fit(world)
    return world, agent, time.perf_counter() - started


def tune(dataset: Any, truth: Any, rounds: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every grid setting on the tuning seed; per policy, the best by the rule in `choose`."""
    world, agent, _ = build(dataset, truth, TUNING_SEED, rounds)
    sim = {"rounds": rounds, "seed": TUNING_SEED}
    greedy = policy_metrics(simulate(world, agent, "greedy", {}, sim))
    runs: dict[str, Any] = {}
    chosen: dict[str, Any] = {"greedy": {}}
    for policy, settings in GRID.items():
        runs[policy] = []
        for config in settings:
            metrics = policy_metrics(simulate(world, agent, policy, config, sim))
            versus = compare_with({"greedy": greedy, policy: metrics})[policy]
            runs[policy].append({"config": config, **{k: versus[k] for k in TARGETS}, "seconds": metrics["seconds"]})
            print(f"  tune {policy} {config}: {_targets_line(versus)}", flush=True)
        chosen[policy] = choose(runs[policy])
    return runs, chosen


def choose(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The setting with the most clicks among those meeting every target; failing that, among those
    keeping every window within 5% of greedy; failing that, the most clicks."""
    for keep in (lambda r: all(_meets(r, k) for k in TARGETS), lambda r: _meets(r, "worst_window_ctr_ratio")):
        kept = [r for r in runs if keep(r)]
        if kept:
            return dict(max(kept, key=lambda r: r["clicks_lift"])["config"])
    return dict(max(runs, key=lambda r: r["clicks_lift"])["config"])


def run_seed(name: str, dataset: Any, truth: Any, seed: int, rounds: int, configs: dict[str, Any]) -> dict[str, Any]:
    """Every policy (and the oracle) on one test seed, side by side."""
    world, agent, build_seconds = build(dataset, truth, seed, rounds)
    sim = {"rounds": rounds, "seed": seed}
    results = {"oracle": simulate(world, None, "oracle", None, sim)}
    for policy in BUILT_IN_POLICIES:
        results[policy] = simulate(world, agent, policy, configs[policy], sim)
        print(f"  {name} seed {seed} {policy}: {results[policy].seconds:.0f}s", flush=True)
    metrics = {p: policy_metrics(r) for p, r in results.items()}
    for policy, m in metrics.items():
        m["config"] = configs.get(policy, {})
    versus = compare_with(metrics)
    for policy, v in versus.items():
        v["meets"] = {k: _meets(v, k) for k in TARGETS}
        print(f"  {name} seed {seed} {policy}: {_targets_line(v)}", flush=True)
    counts = dataset.item_counts()
    out = {
        "world": world.describe(),
        "new_item_interaction_share": round(float(counts[world.new_items].sum() / counts.sum()), 3),
        "agent": agent.config.model_dump(mode="json"),
        "build_seconds": round(build_seconds, 1),
        "peak_rss_mib": round(peak_rss_mib()),
        "policies": metrics,
        "vs_greedy": versus,
    }
    plot_simulation(out, RESULTS / f"balance_{name}_seed{seed}.png", title=f"{name}, seed {seed}: {rounds:,} requests")
    return out


def _meets(versus: dict[str, Any], key: str) -> bool:
    value = versus.get(key)
    return value is not None and value >= TARGETS[key]


def _targets_line(v: dict[str, Any]) -> str:
    sooner = v["times_sooner_to_reach"]
    return (
        f"clicks {v['clicks_lift']:+.1%}, new items {'-' if sooner is None else f'{sooner:.1f}x'} sooner, "
        f"worst window {v['worst_window_ctr_ratio']:.3f}"
    )


def table(payload: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in payload["world"].items())
    lines: list[str] = [
        f"Worlds: the `SemiSyntheticConfig` defaults with {settings} for every dataset: held-back items are "
        "drawn in proportion to their interactions, because launches are disproportionately the items people "
        "want (drawn uniformly, amazon-games' new games are mostly long-tail items each wanted by a handful of "
        "users, and no policy gains anything there).",
        "",
    ]
    for name, seeds in payload["datasets"].items():
        for seed, run in seeds.items():
            world = run["world"]
            lines += [
                f"**{name}**, seed {seed} (settings tuned on seed {payload['tuning_seed']}): {world['users']:,} users, "
                f"{world['items']:,} items of which {world['new_items']:,} arrive during the horizon "
                f"(they carry {run['new_item_interaction_share']:.0%} of the dataset's interactions), "
                f"{payload['rounds']:,} requests of 10 items",
                "",
                "| policy | clicks | vs greedy | regret | CTR | worst 10% window vs greedy | new items: median "
                "requests to 100 impressions | sooner than greedy | coverage | diversity | s per run | settings |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for policy, m in run["policies"].items():
                lines.append(_row(policy, m, run["vs_greedy"].get(policy)))
            lines += ["", _verdict(run["vs_greedy"]), ""]
    return "\n".join(lines)


def _row(policy: str, m: dict[str, Any], v: dict[str, Any] | None) -> str:
    new = m["new_items"]
    median = new["median_rounds_to_reach"]
    reach = f"{median:,.0f}" if median is not None else f"> {new['median_at_least']:,}"
    sooner = "-" if v is None else _times(v)
    settings = ", ".join(f"{k}={val}" for k, val in m.get("config", {}).items() if k != "seed") or "-"
    lift = "-" if v is None else f"{v['clicks_lift']:+.1%}"
    worst = "-" if v is None else f"{v['worst_window_ctr_ratio']:.3f}"
    return (
        f"| {policy} | {m['cumulative_reward']:,} | {lift} | {m['regret']:,.0f} | {m['ctr']:.4f} | {worst} "
        f"| {reach} | {sooner} | {m['coverage']:.3f} | {m['diversity']:.3f} | {m['seconds']:.0f} | {settings} |"
    )


def _times(v: dict[str, Any]) -> str:
    if v["times_sooner_to_reach"] is None:
        return "n/a"
    return ("≥ " if v["times_sooner_is_lower_bound"] else "") + f"{v['times_sooner_to_reach']:.1f}x"


def _verdict(versus: dict[str, Any]) -> str:
    exploring = {p: v for p, v in versus.items() if p in BUILT_IN_POLICIES}
    passing = [p for p, v in exploring.items() if all(v["meets"].values())]
    best = max(exploring, key=lambda p: exploring[p]["clicks_lift"])
    v = exploring[best]
    parts = [
        f"most clicks: {best} ({v['clicks_lift']:+.1%}; target +10%: "
        f"{'holds' if v['meets']['clicks_lift'] else 'fails'})",
        f"new items {_times(v)} sooner (target 5x: {'holds' if v['meets']['times_sooner_to_reach'] else 'fails'})",
        f"worst window {v['worst_window_ctr_ratio']:.3f} of greedy (target 0.95: "
        f"{'holds' if v['meets']['worst_window_ctr_ratio'] else 'fails'})",
    ]
    meeting = f"policies meeting all three targets: {', '.join(passing) if passing else 'none'}"
    return "Targets — " + "; ".join(parts) + f". {meeting}."


if __name__ == "__main__":
    main()
