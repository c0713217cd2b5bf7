"""`lmrec simulate`: run exploration policies side by side in a world with a known truth."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lmrec.cli.common import check_writable, console, errors, errors_as_exit_codes, parse_settings, write_json

if TYPE_CHECKING:
    from lmrec.pipeline.pipeline import PipelineConfig
    from lmrec.simulation.agents import Agent
    from lmrec.simulation.simulator import SimulationConfig, SimulationResult
    from lmrec.simulation.worlds import World

SCOPES = ("world", "agent", "simulation")


def simulate_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file for the results.")],
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", "-p", help="Policy name (repeat to compare), or `all` for every one."),
    ] = None,
    pipeline: Annotated[
        list[Path] | None,
        typer.Option(
            help="Also run this pipeline config (TOML or JSON) request by request, as `pipeline-POLICY` "
            "(repeat to compare; as `pipeline-FILE` where two have one policy).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Dataset file or folder to build a semi-synthetic world from.")
    ] = None,
    world: Annotated[str | None, typer.Option(help="A built-in world instead of --data: `shop`.")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Format of --data; detected when omitted.")] = None,
    rounds: Annotated[int, typer.Option(help="Requests to serve; one request (one shown list) is one impression.")] = (
        100_000
    ),
    seed: Annotated[int, typer.Option(help="Seed of the world, the users, the clicks and the policies.")] = 0,
    k: Annotated[int, typer.Option("-k", "--k", help="Items shown per request.")] = 10,
    batch: Annotated[int, typer.Option(help="Requests served per step (the agent learns once per step).")] = 500,
    model: Annotated[str, typer.Option(help="Base ranker of the recommender under test.")] = "ease",
    new_share: Annotated[float, typer.Option(help="Share of items held back and released as new (--data).")] = 0.2,
    drift: Annotated[float, typer.Option(help="Std of the taste drift, in logits, by the end of the horizon.")] = 0.25,
    max_users: Annotated[int, typer.Option(help="Simulate at most this many users (a seeded sample).")] = 5_000,
    shop_users: Annotated[int, typer.Option(help="Users of the generated shop (--world shop).")] = 2_000,
    shop_items: Annotated[int, typer.Option(help="Items of the generated shop (--world shop).")] = 1_500,
    item_vectors: Annotated[
        str, typer.Option(help="Item vectors of the online head: auto, text, interactions or none.")
    ] = "auto",
    plot: Annotated[Path | None, typer.Option(help="PNG of the curves; default: --output with .png.")] = None,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write each policy's impression log (with exact propensities) here as NPZ, and each "
            "pipeline's pipeline log (its requests, for lmrec.simulation.replay) as Parquet."
        ),
    ] = None,
    config: Annotated[
        str | None, typer.Option(help='JSON (text or file): {"world": {...}, "agent": {...}, "POLICY": {...}}.')
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override SCOPE.key=value; SCOPE is world, agent, simulation or a policy name."),
    ] = None,
) -> None:
    """Simulate users, lists and clicks in a world with a known truth, and compare policies.

    Every policy runs with the same recommender (base ranker + online Bayesian head), the same
    users and the same random numbers, so they differ only in how they choose. The JSON output maps
    `policies` -> name -> metrics (cumulative_reward, regret, ctr, ctr_windows, coverage,
    new_items, diversity, ...) and `vs_greedy` -> name -> lift and ratios against greedy.

    Each policy's settings default to those tuned for the shop's world over 100,000 requests
    (benchmarks/bench_balance.py); --set POLICY.key=value changes one.

    --pipeline runs a whole declared pipeline (the object `lmrec recommend --pipeline` runs) beside
    them, on the same users and random numbers, under the name `pipeline-POLICY` (`pipeline-FILE`,
    the file's name without its suffix, where two pipelines have the same policy): its model is
    --model fitted on the world's history, its item vectors (when a stage needs them) the agent's.
    It serves one request at a time and learns after each, so it is far slower than the batched
    policies (milliseconds per request): give it thousands of rounds, not 100,000.

    Examples:

      lmrec simulate --world shop --policy greedy --policy cold_budget --output sim.json

      lmrec simulate --data ../shared/data/ml-1m --policy all --rounds 100000 --seed 0 --output ml1m.json

      lmrec simulate --world shop --policy greedy --pipeline pipeline.toml --rounds 5000 --output sim.json

      lmrec simulate --world shop --pipeline deployed.toml --pipeline candidate.toml --rounds 5000 --output sim.json
    """
    from lmrec.diagnostics import ConfigError
    from lmrec.simulation.agents import Agent
    from lmrec.simulation.report import plot_simulation, simulation_report
    from lmrec.simulation.simulator import DEFAULT_POLICY_CONFIGS, compare_policies, policy_names, simulation_config

    picture = plot if plot is not None else output.with_suffix(".png")
    with errors_as_exit_codes():
        if not policy and not pipeline:
            raise ConfigError("give --policy, --pipeline or both")
        check_writable(output, folder=False)  # fails now, not after the simulation
        check_writable(picture, folder=False)
        if log_dir is not None:
            check_writable(log_dir, folder=True)
        names = policy_names(policy) if policy else []
        declared = _pipeline_configs(pipeline or [])
        scoped = _scoped(parse_settings(config, set_), names)
        logged = {"log": True} if log_dir is not None else {}
        sim = simulation_config(
            {"rounds": rounds, "batch": batch, "k": k, "seed": seed, **logged, **scoped["simulation"]}
        )
        agent_config = {"ranker": model, "item_vectors": item_vectors, "seed": seed, **scoped["agent"]}
        agent = Agent(agent_config)
        the_world = _build_world(
            data, world, format, {"horizon": rounds, "seed": seed, "drift": drift, "max_users": max_users},
            new_share, shop_users, shop_items, scoped["world"],
        )  # fmt: skip
        if names or any(d.needs_item_vectors() for _, d in declared.values()):
            with errors.status("fitting the recommender on the world's history"):
                agent.fit(the_world)
        configs = {n: {**DEFAULT_POLICY_CONFIGS.get(n, {}), **scoped[n]} for n in names}
        slow = [n for n in names if n in ("thompson", "softmax")]
        if sim.log and slow:
            raise ConfigError(
                f"exact propensities of {', '.join(slow)} cost milliseconds per request; "
                "log them from the Python API (lmrec.simulation.simulate with log=True) on a shorter horizon"
            )
        results = {}
        if names:
            with errors.status(f"simulating {len(names)} policies x {rounds:,} requests"):
                results = compare_policies(the_world, agent, configs, sim)
        settings: dict[str, Any] = {
            "simulation": sim.model_dump(mode="json"),
            "agent": agent.config.model_dump(mode="json"),
        }
        for name, (_, declaration) in declared.items():
            results[name] = _run_pipeline(declaration, name, the_world, agent, sim)
            configs[name] = declaration.model_dump(mode="json")
        if declared:
            settings["pipelines"] = [{"file": str(path), "name": name} for name, (path, _) in declared.items()]
        payload = simulation_report(results, world=the_world.describe(), settings=settings, policy_configs=configs)
        write_json(output, payload)
        if log_dir is not None:
            _write_logs(log_dir, results)
        plot_simulation(payload, picture, title=f"{data.name if data else world}: {rounds:,} requests, seed {seed}")
    print_simulation_table(payload)
    console.print(f"results written to {output} and {picture}")


def _pipeline_configs(paths: list[Path]) -> dict[str, tuple[Path, PipelineConfig]]:
    """Each --pipeline file's config under its run's name: `pipeline-POLICY`, or `pipeline-FILE` where
    two files declare the same policy."""
    from lmrec.diagnostics import ConfigError
    from lmrec.pipeline.pipeline import PipelineConfig
    from lmrec.simulation.pipeline_loop import pipeline_name

    configs = [PipelineConfig.from_file(path) for path in paths]
    names = [pipeline_name(c) for c in configs]
    if len(set(names)) < len(names):
        names = [f"pipeline-{path.stem}" for path in paths]
    if len(set(names)) < len(names):
        raise ConfigError(f"two runs would share a name ({', '.join(names)}); give the pipeline files distinct names")
    return {name: (path, config) for name, path, config in zip(names, paths, configs, strict=True)}


def _run_pipeline(
    declared: PipelineConfig, name: str, world: World, agent: Agent, sim: SimulationConfig
) -> SimulationResult:
    """The pipeline's run, with --model fitted on the world's history and the agent's item vectors."""
    from lmrec.diagnostics import ConfigError
    from lmrec.simulation.pipeline_loop import simulate_pipeline, world_pipeline

    vectors = None
    if declared.needs_item_vectors():
        vectors = agent.vectors
        if vectors.shape[1] == 0:
            raise ConfigError("the pipeline's stages need item vectors, and --item-vectors none gives none")
    cfg = agent.config
    with errors.status(f"fitting {cfg.ranker} for {name} on the world's history"):
        runnable = world_pipeline(world, declared, ranker=cfg.ranker, ranker_config=cfg.ranker_config, vectors=vectors)
    with errors.status(f"running {name}, one request at a time ({sim.rounds:,} requests)"):
        return simulate_pipeline(world, runnable, sim, name=name)


def _write_logs(folder: Path, results: dict[str, Any]) -> None:
    """One `POLICY.npz` per run with the `ImpressionLog` arrays (round, position, item, reward,
    propensity) and its sizes (n_items, n_positions); and for a declared pipeline's run, its pipeline
    log `NAME.parquet` (`lmrec.simulation.replay`), on which a candidate pipeline can be replayed."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for name, result in results.items():
        log = result.log
        np.savez_compressed(
            folder / f"{name}.npz",
            round=log.round,
            position=log.position,
            item=log.item,
            reward=log.reward,
            propensity=log.propensity,
            n_items=np.int64(log.n_items),
            n_positions=np.int64(log.n_positions),
        )
        if result.requests is not None:
            result.requests.to_parquet(folder / f"{name}.parquet", index=False)


def _scoped(settings: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """Split `SCOPE.key` settings (and top-level scope objects) into world, agent, simulation and policies."""
    from lmrec.diagnostics import ConfigError

    out: dict[str, dict[str, Any]] = {scope: {} for scope in (*SCOPES, *names)}
    for key, value in settings.items():
        scope, dot, rest = key.partition(".")
        if not dot and key in out and isinstance(value, dict):
            out[key].update(value)
        elif dot and scope in out:
            out[scope][rest] = value
        else:
            known = ", ".join(out)
            raise ConfigError(f"setting {key!r} names no scope; use SCOPE.key with SCOPE one of {known}")
    return out


def _build_world(
    data: Path | None,
    world: str | None,
    format: str | None,
    common: dict[str, Any],
    new_share: float,
    shop_users: int,
    shop_items: int,
    overrides: dict[str, Any],
) -> Any:
    from lmrec.diagnostics import ConfigError
    from lmrec.simulation.worlds import SemiSyntheticWorld, ShopWorld

    if (data is None) == (world is None):
        raise ConfigError("give either --data PATH or --world shop (exactly one)")
    if world is not None:
        if world != "shop":
            raise ConfigError(f"unknown world {world!r}; the built-in world is `shop`")
        shop = {"n_users": shop_users, "n_items": shop_items, "seed": common["seed"], **overrides.pop("shop", {})}
        with errors.status("generating the shop"):
            return ShopWorld.build({**common, "shop": shop, **overrides})
    from lmrec.cli.data_source import load_data

    assert data is not None
    with errors.status(f"reading {data}"):
        dataset = load_data(data, None, format)
    with errors.status("building the world (fitting the truth model on all the data)"):
        return SemiSyntheticWorld.build(dataset, {**common, "new_item_share": new_share, **overrides})


def print_simulation_table(payload: dict[str, Any]) -> None:
    """One row per policy of a simulation report: clicks, lift over greedy, regret, CTR, coverage, reach."""
    table = Table(show_edge=False)
    for column in ("policy", "clicks", "vs greedy", "regret", "CTR", "coverage", "new: rounds to reach", "diversity"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    versus = payload.get("vs_greedy", {})
    for name, m in payload["policies"].items():
        lift = versus.get(name, {}).get("clicks_lift")
        new = m["new_items"]
        if new["median_rounds_to_reach"] is not None:
            reach = f"{new['median_rounds_to_reach']:,.0f}"
        elif new["median_at_least"] is not None:
            reach = f"> {new['median_at_least']:,}"
        else:
            reach = "-"
        table.add_row(
            name,
            f"{m['cumulative_reward']:,}",
            "-" if lift is None or math.isnan(lift) else f"{lift:+.1%}",
            f"{m['regret']:,.0f}",
            f"{m['ctr']:.4f}",
            f"{m['coverage']:.3f}",
            reach,
            "-" if m["diversity"] is None else f"{m['diversity']:.3f}",
        )
    console.print(table)
