"""Where a command's data comes from: a file or folder (`--data`) or the store (`--store`), and the
pipeline a saved model and that data make."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lmrec.cli.common import console, errors
from lmrec.data.dataset import Dataset
from lmrec.diagnostics import ConfigError

if TYPE_CHECKING:
    from lmrec.pipeline.pipeline import Pipeline


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
    dataset = Store.open(url, create=False).dataset()
    if dataset.n_interactions == 0:
        raise ConfigError(f"the store {url} has no events yet; run `lmrec import` first")
    return dataset


def load_pipeline(path: Path, model_dir: Path, data: Path | None, store: str | None, format: str | None) -> Pipeline:
    """The pipeline declared in `path` over the model saved in `model_dir` and the data it was trained
    on, with the item text vectors its stages read (embedded when any does)."""
    from lmrec.models import load_model
    from lmrec.pipeline.pipeline import Pipeline, PipelineConfig

    config = PipelineConfig.from_file(path)
    model = load_model(model_dir)
    with errors.status("reading the data the model was trained on"):
        dataset = load_data(data, store, format)
    if dataset.items != model.items:
        raise ConfigError(
            f"the model in {model_dir} knows {len(model.items):,} items but the data has {dataset.n_items:,} "
            "(or others); a pipeline needs the data the model was trained on: retrain with `lmrec train`"
        )
    vectors = None
    if config.needs_item_vectors():
        from lmrec.encoders import EncoderConfig, embed_texts

        with errors.status(f"embedding {dataset.n_items:,} item texts for the pipeline's stages"):
            vectors = embed_texts(dataset.item_text(), EncoderConfig())
    return Pipeline(config, model, dataset, vectors)
