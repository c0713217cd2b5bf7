"""How fast does a bulk import go? Events per second into a fresh store, reading + validation + insert.

Imports ml-100k (RecBole atomic files) and amazon-beauty (sequence folder) from the shared data
folder into a fresh SQLite file, and into a fresh PostgreSQL database when one is reachable at
`$LMREC_TEST_POSTGRES_URL` (default postgresql+psycopg://postgres@localhost/test). Each case runs
3 times; the median is reported. Events per second counts every event row read (items and users
are imported too, and their time is included). Writes `benchmarks/results/import.json`.

    .venv/bin/python benchmarks/bench_import.py [--runs 3] [--datasets ml-100k amazon-beauty] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import replace_readme_section

from lmrec.data.ingest import import_path
from lmrec.data.store import Store
from lmrec.testing import shared_data_dir

RESULTS = Path(__file__).resolve().parent / "results" / "import.json"
TARGET_EVENTS_PER_SECOND = 50_000


def run_once(url: str, folder: Path) -> dict[str, Any]:
    """Import `folder` into the store at `url`; returns the counts and the wall time."""
    store = Store.open(url)
    try:
        started = time.perf_counter()
        summary = import_path(store, folder, rejects_path=None)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    events = summary.per_kind.get("events", {})
    return {
        "seconds": seconds,
        "events_read": events.get("read", 0),
        "events_stored": events.get("stored", 0),
        "rows_read": summary.read,
        "balanced": summary.is_balanced(),
    }


def bench_sqlite(folder: Path, runs: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            out.append(run_once(f"sqlite:///{tmp}/bench.db", folder))
    return out


def postgres_admin_url() -> str | None:
    """The server's `postgres` database URL when a server answers, else None."""
    url = sa.engine.make_url(os.environ.get("LMREC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost/test"))
    admin = url.set(database="postgres")
    try:
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception:  # any failure to connect means: no server here
        return None
    return admin.render_as_string(hide_password=False)


def bench_postgres(admin_url: str, folder: Path, runs: int) -> list[dict[str, Any]]:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    out = []
    try:
        for _ in range(runs):
            name = f"lmrec_bench_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
                out.append(run_once(url, folder))
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    return out


def summarise(store: str, dataset: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = statistics.median(r["seconds"] for r in runs)
    events = runs[0]["events_read"]
    return {
        "store": store,
        "dataset": dataset,
        "events": events,
        "rows": runs[0]["rows_read"],
        "median_seconds": round(seconds, 3),
        "events_per_second": round(events / seconds) if seconds > 0 else None,
        "runs_seconds": [round(r["seconds"], 3) for r in runs],
        "balanced": all(r["balanced"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["ml-100k", "amazon-beauty"])
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    data = shared_data_dir()
    if not data.is_dir():
        print(f"skipped: real datasets not found at {data} (set LMREC_SHARED_DATA)")
        return 0
    admin = None if args.no_postgres else postgres_admin_url()
    results = []
    for dataset in args.datasets:
        folder = data / dataset
        results.append(summarise("sqlite", dataset, bench_sqlite(folder, args.runs)))
        if admin is not None:
            results.append(summarise("postgresql", dataset, bench_postgres(admin, folder, args.runs)))
    report = {
        "question": "events per second of a bulk import (read + validate + insert), median of runs",
        "target_sqlite_events_per_second": TARGET_EVENTS_PER_SECOND,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "postgres": admin is not None,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'store':<11} {'dataset':<14} {'events':>9} {'median s':>9} {'events/s':>10}")
    for r in results:
        line = f"{r['store']:<11} {r['dataset']:<14} {r['events']:>9,} {r['median_seconds']:>9.2f}"
        print(f"{line} {r['events_per_second']:>10,}")
    print(f"written to {args.output}")
    replace_readme_section("import", readme_table(report))
    return 0


def readme_table(report: dict[str, Any]) -> str:
    """The README table: median events per second per store and dataset."""
    lines = [
        "Bulk import of every file of a dataset (read + validate + store, items included), median of "
        f"{len(report['results'][0]['runs_seconds']) if report['results'] else 0} runs into a fresh store "
        f"(`python benchmarks/bench_import.py`); target {report['target_sqlite_events_per_second']:,} events/s "
        "into SQLite:",
        "",
        "| store | dataset | events | median s | events/s |",
        "|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['store']} | {r['dataset']} | {r['events']:,} | {r['median_seconds']:.2f} "
            f"| {r['events_per_second']:,} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
