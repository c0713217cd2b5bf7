"""Run every benchmark script in turn (`make bench`), each with its default settings.

Each script writes its JSON under benchmarks/results/ and its README table; one that fails is
reported and the rest still run. Scripts that need ../shared/data skip themselves with a reason when
it is absent. The whole run takes hours on a 2-core machine; run a single script for one table.

    python benchmarks/run_all.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: In the order of the README's results sections.
SCRIPTS = (
    "baselines.py",
    "bench_sasrec.py",
    "bench_unknown_item.py",
    "bench_cold_start.py",
    "bench_text_weight.py",
    "bench_lora.py",
    "bench_explain.py",
    "bench_retrieval.py",
    "bench_rerank.py",
    "bench_balance.py",
    "bench_simulator_speed.py",
    "bench_import.py",
    "bench_ope_open_bandit.py",
    "bench_ope_simulator.py",
    "bench_ope_pipeline.py",
    "compare_ope_intervals.py",
    "bench_likelihood_small_logs.py",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="Run only these scripts.")
    args = parser.parse_args()
    failed: list[str] = []
    for script in args.only or SCRIPTS:
        started = time.perf_counter()
        print(f"== {script}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script)], cwd=HERE)
        print(f"== {script}: exit {code} after {(time.perf_counter() - started) / 60:.1f} min", flush=True)
        if code:
            failed.append(script)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
