"""`lmrec demo`: the whole loop on the embedded synthetic shop, offline, in a few minutes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lmrec.cli.common import console, errors, errors_as_exit_codes, write_json

if TYPE_CHECKING:
    import numpy as np

    from lmrec.data.splits import Split
    from lmrec.data.synthetic import ShopConfig
    from lmrec.evaluation.protocol import EvaluationResult

DEMO_MODELS = ("popularity", "itemknn", "ease", "als", "bpr", "content", "sasrec")
#: Settings that keep the demo to a few minutes on a laptop CPU.
DEMO_SETTINGS: dict[str, dict[str, float]] = {"sasrec": {"max_minutes": 2.0}}
SHOWN = ("HR@10", "NDCG@10", "Recall@20", "MRR", "Coverage@10", "ILD@10", "Novelty@10")
#: Short column headers, so the table fits 100 columns.
HEADERS = {"Recall@20": "R@20", "Coverage@10": "Cov@10", "Novelty@10": "Nov@10"}


def demo_command(
    folder: Annotated[
        Path, typer.Option("--dir", help="Working folder for the shop, store, models and report.")
    ] = Path("demo"),
    users: Annotated[int | None, typer.Option(min=10, help="Shop size: users (default: the generator's).")] = None,
    items: Annotated[int | None, typer.Option(min=10, help="Shop size: products (default: the generator's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic shop.")] = 0,
    models: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Models to compare (repeatable); default all baselines.")
    ] = None,
    rounds: Annotated[
        int,
        typer.Option(min=0, help="Requests to simulate in the shop's world, greedy against the cold budget (0: skip)."),
    ] = 100_000,
) -> None:
    """Generate the synthetic shop, import it, train and evaluate every model, save the best, and
    simulate whether exploring its new products pays.

    Examples:

      lmrec demo

      lmrec demo --dir /tmp/shop --users 500 --items 300 -m ease -m content
    """
    from lmrec.data.ingest import import_path
    from lmrec.data.splits import leave_last_out
    from lmrec.data.store import Store
    from lmrec.data.synthetic import ShopConfig, generate_shop, write_shop
    from lmrec.encoders import EncoderConfig, embed_texts
    from lmrec.evaluation.protocol import compare
    from lmrec.evaluation.report import write_report
    from lmrec.models import create_model

    names = list(models or DEMO_MODELS)
    with errors_as_exit_codes():
        sizes = {key: value for key, value in (("n_users", users), ("n_items", items)) if value is not None}
        shop_config = ShopConfig(seed=seed, **sizes)
        start = time.perf_counter()
        with errors.status("generating the synthetic shop"):
            shop = generate_shop(shop_config)
            files = write_shop(shop, folder / "shop")
        console.print(
            f"[bold]1. shop[/]  {len(shop.items):,} products, {len(shop.users):,} users, "
            f"{len(shop.events):,} events in {time.perf_counter() - start:.1f}s -> {folder / 'shop'}"
        )

        db_path = folder / "lmrec.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        store = Store.open(db_path)
        console.print(f"[bold]2. import[/] into {db_path}")
        for kind in ("items", "users", "events"):  # items and users first, so events find their rows
            summary = import_path(store, files[kind], format="jsonl")
            console.print(
                f"   {kind:<6} {summary.stored:,} stored, {summary.duplicates:,} duplicates, "
                f"{summary.rejected:,} rejected in {summary.seconds:.1f}s"
            )

        dataset = store.dataset()
        split = leave_last_out(dataset)
        console.print(f"[bold]3. train and evaluate[/] leave-last-out: {split.n_test_users:,} test users")
        with errors.status("embedding product text with the language model"):
            t0 = time.perf_counter()
            item_vectors = embed_texts(dataset.item_text(), EncoderConfig())  # for diversity; cached for content
        console.print(f"   embedded {dataset.n_items:,} product texts in {time.perf_counter() - t0:.1f}s")
        results = [_train_and_evaluate(name, split, item_vectors) for name in names]
        best = max(results, key=lambda r: r.metrics["NDCG@10"])
        comparisons = [compare(best, r, "NDCG@10") for r in results if r is not best]
        paths = write_report(
            results, folder / "report", title="synthetic shop, leave-last-out", comparisons=comparisons
        )
        _print_results(results, best.model)
        console.print(f"[bold]4. report[/] {', '.join(str(p) for p in paths.values())}")

        final = create_model(best.model, DEMO_SETTINGS.get(best.model)).fit(dataset)
        model_dir = final.save(folder / "models" / best.model)
        write_json(folder / "models" / "best.json", {"model": best.model, "path": str(model_dir)})
        # Shapley values where the model has them: the one history item whose removal costs most can be
        # a near tie of a few hundredths among items that stand in for each other (README, Explanations).
        method = "shapley" if "shapley" in final.explain_methods else final.explain_methods[0]
        _print_example(final, dataset, shop.items, method)
        console.print(f"[bold]5. model[/] {best.model} retrained on all data -> {model_dir}")
        how = f"--explain-by {method}" if method != final.explain_methods[0] else "--explain"
        console.print(f"   try: lmrec recommend {model_dir} --user {dataset.users.ids[0]} --store {db_path} {how}")
        if rounds:
            _simulate_balance(folder / "simulation", shop_config, rounds, seed)


def _simulate_balance(folder: Path, shop: ShopConfig, rounds: int, seed: int) -> None:
    """Greedy, the cold budget and `new_oracle` side by side in the shop's world: its history is the
    first half of the shop's days, the products launched later arrive during the requests, and the
    shop's hidden truth gives every click probability. The report goes to `folder` as JSON and PNG."""
    from lmrec.cli.simulate import print_simulation_table
    from lmrec.simulation.agents import Agent
    from lmrec.simulation.report import plot_simulation, simulation_report
    from lmrec.simulation.simulator import DEFAULT_POLICY_CONFIGS, compare_policies
    from lmrec.simulation.worlds import ShopWorld, ShopWorldConfig

    configs = {name: DEFAULT_POLICY_CONFIGS.get(name, {}) for name in ("greedy", "cold_budget", "new_oracle")}
    sim = {"rounds": rounds, "seed": seed}
    with errors.status(f"simulating {rounds:,} requests in the shop's world"):
        world = ShopWorld.build(ShopWorldConfig(shop=shop, horizon=rounds, seed=seed))
        agent = Agent({"seed": seed}).fit(world)
        results = compare_policies(world, agent, configs, sim)
    settings = {"simulation": sim, "agent": agent.config.model_dump(mode="json")}
    payload = simulation_report(results, world=world.describe(), settings=settings, policy_configs=configs)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "simulation.json", payload)
    plot_simulation(payload, folder / "simulation.png", title=f"synthetic shop: {rounds:,} requests, seed {seed}")
    lift = payload["vs_greedy"]["cold_budget"]["clicks_lift"]
    console.print(
        f"[bold]6. balance[/] {rounds:,} simulated requests; the cold budget, which explores new products, "
        f"against greedy: {lift:+.1%} clicks -> {folder}"
    )
    print_simulation_table(payload)


def _train_and_evaluate(name: str, split: Split, item_vectors: np.ndarray) -> EvaluationResult:
    """Fit one model on the split's training side, evaluate it and print its line."""
    from lmrec.evaluation.protocol import EvaluationConfig, evaluate
    from lmrec.models import create_model

    model = create_model(name, DEMO_SETTINGS.get(name))
    with errors.status(f"training {name}"):
        start = time.perf_counter()
        model.fit(split.train)
        fit_seconds = time.perf_counter() - start
    with errors.status(f"evaluating {name}"):
        result = evaluate(model, split, EvaluationConfig(), item_vectors=item_vectors, name=name)
    console.print(
        f"   {name:<10} NDCG@10 {result.metrics['NDCG@10']:.4f}  "
        f"(fit {fit_seconds:.1f}s, evaluate {result.seconds:.1f}s)"
    )
    return result


def _print_results(results: list, best: str) -> None:  # type: ignore[type-arg]
    table = Table(title="leave-last-out, full ranking, seen items excluded (95% CI for NDCG@10)", show_edge=False)
    table.add_column("model")
    for metric in SHOWN:
        table.add_column(HEADERS.get(metric, metric), justify="right")
    table.add_column("NDCG@10 95% CI", justify="right", no_wrap=True)
    for r in sorted(results, key=lambda r: -r.metrics["NDCG@10"]):
        low, high = r.intervals.get("NDCG@10", (float("nan"), float("nan")))
        style = "bold green" if r.model == best else None
        table.add_row(
            r.model,
            *(f"{r.metrics[m]:.3f}" if m in r.metrics else "-" for m in SHOWN),
            f"{low:.3f}-{high:.3f}",
            style=style,
        )
    console.print(table)


def _print_example(model, dataset, items_frame, method: str) -> None:  # type: ignore[no-untyped-def]
    from lmrec.data.columns import Columns

    titles = dict(zip(items_frame[Columns.Item].astype(str), items_frame[Columns.Title], strict=True))
    user = str(dataset.users.ids[0])
    history = model.user_histories([user]).row(0)[-3:]
    console.print(f"   user {user} recently looked at:")
    for item in dataset.items.id(history):
        console.print(f"     - {titles.get(item, item)}")
    console.print(f"   {model.name} recommends (explained by {method}):")
    shown = model.recommend(user, k=5, explain=1, explain_method=method)
    for item, pairs in zip(shown.ids, shown.column(Columns.Because), strict=True):
        because = f"  (because of {titles.get(pairs[0][0], pairs[0][0])}, {pairs[0][1]:+.4f})" if pairs else ""
        console.print(f"     + {titles.get(item, item)}{because}")
