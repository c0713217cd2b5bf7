"""Shared pieces of the benchmark scripts: where data and results live, timing, README tables."""

from __future__ import annotations

import json
import platform
import re
import resource
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"

T = TypeVar("T")


def shared_data(name: str) -> Path | None:
    """A dataset folder under ../shared/data, or None (with a printed reason) when absent."""
    from lmrec.testing import shared_data_dir

    path = shared_data_dir() / name
    if not path.exists():
        print(f"skipping {name}: {path} not found (set LMREC_SHARED_DATA)", file=sys.stderr)
        return None
    return path


#: Libraries whose arithmetic the numbers depend on; their versions go into every result file.
NUMERIC_PACKAGES = ("numpy", "scipy", "torch", "implicit", "faiss-cpu", "sentence-transformers", "transformers", "peft")


def machine() -> dict[str, Any]:
    """What the numbers were measured on, with the versions of the numeric libraries."""
    import os
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "packages": {name: installed(name) for name in NUMERIC_PACKAGES},
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """`with timer() as t: ...` then `t["seconds"]`."""
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], T]) -> tuple[float, list[float], T]:
    """Run `fn` `runs` times; the median seconds, every run's seconds and the last result."""
    import statistics

    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result  # type: ignore[return-value]


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write `benchmarks/results/<name>.json` with the machine description added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


#: Width the README's prose is wrapped at (tables, pictures and code keep their lines).
README_WIDTH = 100


def wrapped_prose(text: str, width: int = README_WIDTH) -> str:
    """`text` (Markdown) with each line of prose or list item wrapped at `width`; table rows,
    pictures, headings, comments and fenced code are left as they are."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        kept = fenced or not line.strip() or line.lstrip().startswith(("|", "![", "#", "<!--", "```"))
        if kept or len(line) <= width:
            lines.append(line)
            continue
        item = re.match(r"\s*(?:[-*]|\d+\.) ", line)
        indent = " " * (item.end() if item else len(line) - len(line.lstrip()))
        lines += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def replace_readme_section(marker: str, text: str) -> None:
    """Replace the README text between `<!-- marker:start -->` and `<!-- marker:end -->`, its prose
    wrapped (`wrapped_prose`)."""
    text = wrapped_prose(text)
    readme = README.read_text()
    pattern = re.compile(rf"(<!-- {re.escape(marker)}:start -->\n).*?(<!-- {re.escape(marker)}:end -->)", re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no section markers for {marker!r}")
    README.write_text(pattern.sub(lambda m: m.group(1) + text.rstrip() + "\n" + m.group(2), readme))
