"""Does exploration pay? Every policy side by side in semi-synthetic worlds with new items arriving.

Worlds are built from ml-1m and amazon-games (`lmrec.simulation.worlds.SemiSyntheticWorld`): taste
drift 0.25, held-back items released over the first half of the horizon, drawn in proportion to
their interactions, because launches are disproportionately the items people want (drawn uniformly,
amazon-games' held-back games are mostly long-tail items each wanted by a handful of users, whom
exploration cannot find in 100 impressions). Both worlds get about the same number of launches in
the horizon (`WORLDS`: 20% of ml-1m's 3,416 items, 4% of amazon-games' 16,859, about 680 each):
a fixed share would give amazon-games 3,372 launches, and bringing each to 100 impressions would
take a third of all the slots of 100,000 lists of 10. The recommender under test is the same for
every policy (`lmrec.simulation.agents.Agent`: EASE on the history plus the online hybrid Bayesian
head), and every policy meets the same users and the same random numbers. Targets of issue #4,
point 5, checked per policy against greedy:

- at least 10% more clicks;
- new items reach 100 impressions at least 5x sooner (Kaplan–Meier medians; a lower bound when
  greedy's median is censored at the end of the horizon);
- no 10% window of the horizon with a click rate more than 5% below greedy's.

Beside them run two references: `oracle`, each user's true best list, and `new_oracle`, greedy told
every released new item's true attraction (the agent's posterior mean for known items): its lift over
greedy is about the most that exploring new items could earn this recommender.

    python benchmarks/bench_balance.py --tune     # choose each exploring policy's settings on the tuning seeds
    python benchmarks/bench_balance.py --tune --policies ucb   # retune one policy, keeping the others' runs
    python benchmarks/bench_balance.py            # the reported runs on the test seeds, with the tuned settings
    python benchmarks/bench_balance.py --datasets ml-1m --rounds 500000 --label 500k   # a longer horizon, same settings
    python benchmarks/bench_balance.py --tune --datasets shop; python benchmarks/bench_balance.py --datasets shop
    python benchmarks/bench_balance.py --tables [--label 500k]   # rewrite a README table from its JSON, running nothing

`shop` is the synthetic shop's world (`lmrec.simulation.worlds.ShopWorld`, no data files needed):
the products launched after the history's cut arrive during the horizon; it is tuned and reported
like the others, and its tuned settings are `lmrec simulate`'s defaults (`DEFAULT_POLICY_CONFIGS`).

`--tune` writes benchmarks/results/balance_tuning.json; the default run reads it (falling back to
`DEFAULT_POLICY_CONFIGS`; refusing a tuning made in other world settings) and writes
benchmarks/results/balance.json, one PNG per dataset and seed, and the README table between the
`balance` markers. Tuning and test seeds never overlap. A run over some of the datasets keeps the
others' results in both files, so the datasets can run as two processes (each simulation is
single-threaded). Fitting EASE on amazon-games (16,859 items, a dense inverse) takes about 4
minutes on one thread, once for the truth and once per seed for the agent's ranker on the history.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from common import RESULTS, peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.ingest import load_dataset
from lmrec.models import create_model
from lmrec.simulation.agents import Agent
from lmrec.simulation.report import compare_with, plot_simulation, policy_metrics
from lmrec.simulation.simulator import BUILT_IN_POLICIES, DEFAULT_POLICY_CONFIGS, simulate
from lmrec.simulation.worlds import SemiSyntheticWorld, ShopWorld, World

DATASETS = ("ml-1m", "amazon-games")
#: The synthetic shop's world, run by `--datasets shop` beside (not instead of) the data worlds.
SHOP = "shop"
TUNING_SEEDS = (100, 101)
TEST_SEEDS = (1, 2, 3)
TRUTH = {"l2": 200.0}
#: World settings over the `SemiSyntheticConfig` defaults, per dataset: the same but for the share of
#: items that arrive, set so both worlds see about 680 launches (module docstring).
WORLDS: dict[str, dict[str, Any]] = {
    "ml-1m": {"new_item_sampling": "popularity", "new_item_share": 0.2},
    "amazon-games": {"new_item_sampling": "popularity", "new_item_share": 0.04},
}
AGENT: dict[str, Any] = {"user_dimension": 16}
#: Candidate settings of each exploring policy, tried on the tuning seeds. Epsilon and softmax keep
#: only their mildest values: larger ones lost clicks on every world tried. The cold budget uses the
#: bottom slots, where a slot costs the fewest clicks (position bias) yet counts a full impression,
#: and fills them with the cold items the posterior favours for this user (`pick="ucb"`) or uniformly;
#: with `reach`, only with those whose optimistic estimate would make a top 10 of the known items.
BOTTOM_SLOTS = {"budget": 2, "slots": [8, 9], "rate": 1.0}
AIMED_SLOTS = {**BOTTOM_SLOTS, "pick": "ucb"}
GRID: dict[str, list[dict[str, Any]]] = {
    "epsilon": [{"epsilon": 0.02}],
    "softmax": [{"temperature": 0.003}],
    "thompson": [{"scale": s} for s in (0.15, 0.2)],
    "ucb": [{"beta": b} for b in (0.15, 0.2)],
    "cold_budget": [BOTTOM_SLOTS]
    + [{**AIMED_SLOTS, "pick_beta": b} for b in (0.15, 0.3)]
    + [{**AIMED_SLOTS, "pick_beta": b, "reach": 10} for b in (0.15, 0.2)],
}
TARGETS = {"clicks_lift": 0.10, "times_sooner_to_reach": 5.0, "worst_window_ctr_ratio": 0.95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=[*DATASETS, SHOP])
    parser.add_argument("--rounds", type=int, default=100_000, help="Requests (impressions) per run.")
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="Seeds (default: the test seeds, or with --tune the tuning seeds)."
    )
    parser.add_argument("--tune", action="store_true", help="Tune the exploring policies on the tuning seeds.")
    parser.add_argument(
        "--policies", nargs="+", choices=sorted(GRID), help="With --tune: tune only these, keeping the others' runs."
    )
    parser.add_argument(
        "--label",
        help="Write balance_<label>.json, its PNGs and the README section balance-<label> instead of the main "
        "ones: a run on other terms (such as --rounds 500000) with the settings tuned for the main one.",
    )
    parser.add_argument(
        "--tables", action="store_true", help="Rewrite the README section from the results JSON, running nothing."
    )
    args = parser.parse_args()
    stem = f"balance_{args.label}" if args.label else "balance"
    if args.tables:
        if args.tune or args.seeds or args.policies:
            raise SystemExit("--tables rewrites a README table from its results and runs nothing; drop the other flags")
        replace_readme_section(stem.replace("_", "-"), table(json.loads((RESULTS / f"{stem}.json").read_text())))
        return
    seeds = args.seeds or list(TUNING_SEEDS if args.tune else TEST_SEEDS)
    if args.tune and args.label:
        raise SystemExit("--label names a run with the tuned settings; it does not tune")
    tuned_path = RESULTS / "balance_tuning.json"
    overlap = set(seeds) & set(TEST_SEEDS if args.tune else TUNING_SEEDS)
    if overlap:
        raise SystemExit(f"seeds {sorted(overlap)} are {'test' if args.tune else 'tuning'} seeds; choose others")
    tuned = {} if args.tune else load_tuning(tuned_path)
    for name in args.datasets:
        source = world_source(name)
        if source is None:
            continue
        dataset, truth = source
        if args.tune:
            earlier = _earlier_tuning(tuned_path, name, args.rounds, seeds) if args.policies else {}
            stale = sorted(set(GRID) - set(args.policies or GRID) - set(earlier))
            if stale:
                raise SystemExit(f"{name}: the grid of {stale} changed since the last tuning; tune them too")
            tuning = tune(name, dataset, truth, args.rounds, seeds, args.policies or list(GRID), earlier)
            _merge(tuned_path, {"rounds": args.rounds}, name, {"grid": GRID, **tuning})
            continue
        configs = {p: tuned.get(name, {}).get(p, DEFAULT_POLICY_CONFIGS[p]) for p in BUILT_IN_POLICIES}
        runs = {str(s): run_seed(name, dataset, truth, s, args.rounds, configs, stem) for s in seeds}
        entry = {"tuned_on": tuned.get(name, {}).get("tuned_on"), "seeds": runs}
        payload = _merge(RESULTS / f"{stem}.json", {"rounds": args.rounds}, name, entry)
        replace_readme_section(stem.replace("_", "-"), table(payload))


def _merge(path: Path, header: dict[str, Any], name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Write `entry` as dataset `name` of the results at `path`, keeping the other datasets' entries
    when they were made with the same header and world settings; returns the whole payload."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    datasets = {
        k: v for k, v in old.get("datasets", {}).items() if k != name and v.get("world_settings") == world_settings(k)
    }
    if any(old.get(k) != v for k, v in header.items()):
        datasets = {}
    datasets[name] = {"world_settings": world_settings(name), **entry}
    payload = {**header, "datasets": dict(sorted(datasets.items()))}
    write_results(path.stem, payload)
    return payload


def _earlier_tuning(path: Path, name: str, rounds: int, seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """The runs of dataset `name`'s last tuning, refused unless made with these rounds, seeds, world
    and, for each policy, the grid it has now."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    entry = old.get("datasets", {}).get(name)
    same = entry and old.get("rounds") == rounds and entry["seeds"] == seeds
    if not same or entry["world_settings"] != world_settings(name):
        raise SystemExit(f"{path}: no tuning of {name} with {rounds} rounds on seeds {seeds}; tune every policy")
    grid = entry.get("grid", old.get("grid", {}))
    return {p: entry["runs"][p] for p in GRID if grid.get(p) == GRID[p]}


def load_tuning(path: Path) -> dict[str, Any]:
    """The chosen settings per dataset ({} when `--tune` has not run); refuses a tuning made in other worlds."""
    if not path.is_file():
        return {}
    chosen: dict[str, Any] = {}
    for name, entry in json.loads(path.read_text()).get("datasets", {}).items():
        if entry.get("world_settings") != world_settings(name):
            raise SystemExit(f"{path}: {name} was tuned in world settings {entry.get('world_settings')}; rerun --tune")
        chosen[name] = {**entry["chosen"], "tuned_on": entry["seeds"]}
    return chosen


def world_settings(name: str) -> dict[str, Any]:
    """`name`'s world settings as the result files record them ({}: the shop's defaults)."""
    return WORLDS.get(name, {})


def world_source(name: str) -> tuple[Any, Any] | None:
    """The dataset and the truth model fitted on it that `build` makes `name`'s worlds from; (None,
    None) for the shop, which generates its own; None when the dataset is absent."""
    if name == SHOP:
        return None, None
    path = shared_data(name)
    if path is None:
        return None
    dataset, _ = load_dataset(path)
    started = time.perf_counter()
    truth = create_model("ease", TRUTH).fit(dataset)
    print(f"{name}: {dataset}; truth fitted in {time.perf_counter() - started:.0f}s", flush=True)
    return dataset, truth


def build(
    name: str,
    dataset: Any,
    truth: Any,
    seed: int,
    rounds: int,
    world: dict[str, Any] | None = None,
    agent: dict[str, Any] | None = None,
) -> tuple[World, Agent, float]:
    """`name`'s world and the agent fitted on it; `world` and `agent` override the settings of
    `WORLDS` and `AGENT`."""
    started = time.perf_counter()
    if name == SHOP:
        built: World = ShopWorld.build({"horizon": rounds, "seed": seed, **(world or {})})
    else:
        settings = {**WORLDS[name], "horizon": rounds, "seed": seed, **(world or {})}
        built = SemiSyntheticWorld.build(dataset, settings, truth=truth)
    fitted = Agent({**AGENT, "seed": seed, **(agent or {})}).fit(built)
    return built, fitted, time.perf_counter() - started


def tune(
    name: str,
    dataset: Any,
    truth: Any,
    rounds: int,
    seeds: list[int],
    policies: list[str],
    earlier: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Every grid setting of `policies` on every tuning seed (the other policies' runs taken from
    `earlier`); per policy, the setting `choose` picks."""
    runs = {p: [{"config": c, "seeds": {}} for c in GRID[p]] for p in policies}
    for seed in seeds:
        world, agent, _ = build(name, dataset, truth, seed, rounds)
        sim = {"rounds": rounds, "seed": seed}
        greedy = policy_metrics(simulate(world, agent, "greedy", {}, sim))
        for policy, settings in runs.items():
            for setting in settings:
                metrics = policy_metrics(simulate(world, agent, policy, setting["config"], sim))
                versus = compare_with({"greedy": greedy, policy: metrics})[policy]
                setting["seeds"][str(seed)] = {**{k: versus[k] for k in TARGETS}, "seconds": metrics["seconds"]}
                print(f"  tune {name} seed {seed} {policy} {setting['config']}: {_targets_line(versus)}", flush=True)
    runs = {p: runs[p] if p in runs else earlier[p] for p in GRID}
    chosen: dict[str, Any] = {"greedy": {}}
    for policy, settings in runs.items():
        for setting in settings:
            setting["median_clicks_lift"] = statistics.median(r["clicks_lift"] for r in setting["seeds"].values())
        chosen[policy] = choose(settings)
    return {"seeds": seeds, "runs": runs, "chosen": chosen}


def choose(settings: list[dict[str, Any]]) -> dict[str, Any]:
    """The setting with the most median clicks among those meeting every target on every tuning seed;
    failing that, among those keeping every window within 5% of greedy on every seed; failing that,
    the most median clicks."""

    def everywhere(setting: dict[str, Any], keys: Any) -> bool:
        return all(_meets(r, k) for r in setting["seeds"].values() for k in keys)

    for keys in (TARGETS, ["worst_window_ctr_ratio"]):
        kept = [s for s in settings if everywhere(s, keys)]
        if kept:
            return dict(max(kept, key=lambda s: s["median_clicks_lift"])["config"])
    return dict(max(settings, key=lambda s: s["median_clicks_lift"])["config"])


def run_seed(
    name: str, dataset: Any, truth: Any, seed: int, rounds: int, configs: dict[str, Any], stem: str = "balance"
) -> dict[str, Any]:
    """Every policy (and the two oracles) on one test seed, side by side; the plot goes to
    `<stem>_<name>_seed<seed>.png`."""
    world, agent, build_seconds = build(name, dataset, truth, seed, rounds)
    sim = {"rounds": rounds, "seed": seed}
    results = {
        "oracle": simulate(world, None, "oracle", None, sim),
        "new_oracle": simulate(world, agent, "new_oracle", None, sim),
    }
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
    # the held-back items' share of the dataset's interactions (the shop's launches have none before the cut)
    share = None if dataset is None else dataset.item_counts()[world.new_items].sum() / dataset.n_interactions
    out = {
        "world": world.describe(),
        "new_item_interaction_share": None if share is None else round(float(share), 3),
        "agent": agent.config.model_dump(mode="json"),
        "build_seconds": round(build_seconds, 1),
        "peak_rss_mib": round(peak_rss_mib()),
        "policies": metrics,
        "vs_greedy": versus,
    }
    plot_simulation(out, RESULTS / f"{stem}_{name}_seed{seed}.png", title=f"{name}, seed {seed}: {rounds:,} requests")
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
    """Per dataset: each policy's result against greedy on every test seed, and the verdict."""
    lines: list[str] = []
    for name, entry in payload["datasets"].items():
        seeds = entry["seeds"]
        first = next(iter(seeds.values()))
        world = first["world"]
        share = first.get("new_item_interaction_share")
        carried = (
            "products launched after the history's cut"
            if share is None
            else f"they carry {share:.0%} of the dataset's interactions"
        )
        lines += [
            f"**{name}**: {world['users']:,} users, {world['items']:,} items of which {world['new_items']:,} arrive "
            f"during the horizon ({carried}), {payload['rounds']:,} requests of 10 items; test seeds "
            f"{', '.join(seeds)}, settings "
            f"{_tuned_on(entry)}. Each cell lists the seeds in order. Expected clicks are the true click "
            "probabilities of the lists shown (the targets read the clicks).",
            "",
            "| policy | settings | clicks vs greedy | new items reach 100 impressions "
            "| worst 10% window vs greedy: clicks (expected clicks) "
            "| CTR | coverage | diversity | meets all three on every seed |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for policy in first["policies"]:
            lines.append(
                _row(
                    policy,
                    [run["policies"][policy] for run in seeds.values()],
                    [run["vs_greedy"].get(policy) for run in seeds.values()],
                )
            )
        lines += ["", _verdict({seed: run["vs_greedy"] for seed, run in seeds.items()})]
        if "new_oracle" in first["policies"]:
            lines += ["", _headroom(seeds)]
        lines.append("")
    return "\n".join(lines)


def _row(policy: str, metrics: list[dict[str, Any]], versus: list[dict[str, Any] | None]) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in metrics[0].get("config", {}).items() if k != "seed") or "-"
    ctr = " / ".join(f"{m['ctr']:.4f}" for m in metrics)
    coverage = " / ".join(f"{m['coverage']:.2f}" for m in metrics)
    diversity = " / ".join(f"{m['diversity']:.2f}" for m in metrics)
    if any(v is None for v in versus):
        reach = " / ".join(_reach(m) for m in metrics)
        return f"| {policy} | {settings} | - | {reach} requests | - | {ctr} | {coverage} | {diversity} | - |"
    lift = " / ".join(f"{v['clicks_lift']:+.1%}" for v in versus if v)
    sooner = " / ".join(_times(v) for v in versus if v)
    worst = " / ".join(
        f"{v['worst_window_ctr_ratio']:.3f} ({v['worst_window_expected_ctr_ratio']:.3f})" for v in versus if v
    )
    meets = "yes" if all(all(v["meets"].values()) for v in versus if v) else "no"
    if policy not in BUILT_IN_POLICIES:  # the oracles: references, not candidates
        meets = "-"
    return (
        f"| {policy} | {settings} | {lift} | {sooner} sooner | {worst} | {ctr} | {coverage} | {diversity} | {meets} |"
    )


def _headroom(seeds: dict[str, dict[str, Any]]) -> str:
    """What `new_oracle` collects over greedy, per arriving item, and the share of it that the
    10% target asks an exploring policy to earn by learning from clicks."""
    extra, per_item, share = [], [], []
    for run in seeds.values():
        greedy = run["policies"]["greedy"]["cumulative_reward"]
        gained = run["policies"]["new_oracle"]["cumulative_reward"] - greedy
        extra.append(f"{gained:,}")
        per_item.append(f"{gained / max(run['world']['new_items'], 1):.1f}")
        share.append(f"{TARGETS['clicks_lift'] * greedy / gained:.1%}" if gained > 0 else "-")
    return (
        f"Headroom: told each arriving item's true attraction, new_oracle collects {' / '.join(extra)} clicks "
        f"more than greedy, {' / '.join(per_item)} per arriving item; {TARGETS['clicks_lift']:.0%} more clicks "
        f"than greedy is {' / '.join(share)} of that."
    )


def _tuned_on(entry: dict[str, Any]) -> str:
    seeds = entry.get("tuned_on")
    return f"tuned on seed(s) {', '.join(map(str, seeds))}" if seeds else "the defaults (no tuning run)"


def _reach(m: dict[str, Any]) -> str:
    new = m["new_items"]
    median = new["median_rounds_to_reach"]
    return f"{median:,.0f}" if median is not None else f"> {new['median_at_least']:,}"


def _times(v: dict[str, Any]) -> str:
    if v["times_sooner_to_reach"] is None:
        return "n/a"
    return ("≥ " if v["times_sooner_is_lower_bound"] else "") + f"{v['times_sooner_to_reach']:.1f}x"


def _verdict(by_seed: dict[str, dict[str, Any]]) -> str:
    """How many seeds each exploring policy meets all three targets on, and the most clicks."""
    policies = [p for p in BUILT_IN_POLICIES if p != "greedy"]
    meeting = {p: sum(all(v[p]["meets"].values()) for v in by_seed.values()) for p in policies}
    lifts = {p: statistics.median(v[p]["clicks_lift"] for v in by_seed.values()) for p in policies}
    counts = ", ".join(f"{p} {meeting[p]}" for p in sorted(policies, key=lambda p: -meeting[p]))
    most = max(policies, key=lambda p: lifts[p])
    worst = min(v[most]["worst_window_ctr_ratio"] for v in by_seed.values())
    return (
        f"Seeds (of {len(by_seed)}) on which each policy meets all three targets: {counts}. Most clicks: {most}, "
        f"median {lifts[most]:+.1%}, at a worst window of {worst:.3f} of greedy's."
    )


if __name__ == "__main__":
    main()
