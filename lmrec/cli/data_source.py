"""Where a command's data comes from: a file or folder (`--data`) or the store (`--store`)."""

from __future__ import annotations

from pathlib import Path

from lmrec.cli.common import console
from lmrec.data.dataset import Dataset
from lmrec.diagnostics import ConfigError


def load_data(data: Path | None, store: str | None, format: str | None = None) -> Dataset:
    """Read a Dataset from a file/folder (validated in memory) or from a store."""
    if data is not None and store is not None:
        raise ConfigError("give either --data or --store, not both")
    if data is not None:
        from lmrec.data.ingest import load_dataset

        dataset, summary = load_dataset(data, format=format)
        if summary.rejected:
            console.print(f"[yellow]{summary.rejected:,} invalid rows skipped while reading {data}[/]")
        return dataset
    from lmrec.cli.common import DEFAULT_STORE
    from lmrec.data.store import Store

    url = store or DEFAULT_STORE
    dataset = Store.open(url).dataset()
    if dataset.n_interactions == 0:
        raise ConfigError(f"the store {url} has no events yet; run `lmrec import` first")
    return dataset
