"""Reports: the JSON, Markdown and PNG files hold what the results say."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.evaluation.protocol import EvaluationResult, PairedComparison
from lmrec.evaluation.report import comparison_table, markdown_table, write_report


def result(model: str, ndcg: float, *, with_ild: bool = True) -> EvaluationResult:
    metrics = {"NDCG@10": ndcg, "HR@10": 2 * ndcg, "MeanPop@10": 321.5}
    intervals = {"NDCG@10": (ndcg - 0.01, ndcg + 0.02), "HR@10": (2 * ndcg - 0.02, 2 * ndcg + 0.02)}
    if with_ild:
        metrics["ILD@10"] = math.nan
    per_user = pd.DataFrame({Columns.UserIdx: np.arange(3), "NDCG@10": [ndcg] * 3})
    return EvaluationResult(model, "leave-last-out", metrics, intervals, per_user, 3, 0.5)


def comparison() -> PairedComparison:
    return PairedComparison("NDCG@10", "ease", "pop|ular", 0.2, 0.1, 0.1, (0.05, 0.15), 0.001, 3)


def test_write_report(tmp_path: Path) -> None:
    results = [result("ease", 0.2), result("pop|ular", 0.1, with_ild=False)]
    paths = write_report(results, tmp_path / "out", title="toy data", comparisons=[comparison()])
    assert set(paths) == {"json", "markdown", "plot"}
    assert all(p.parent == tmp_path / "out" and p.is_file() for p in paths.values())

    payload = json.loads(paths["json"].read_text())
    assert payload["title"] == "toy data"
    assert [r["model"] for r in payload["results"]] == ["ease", "pop|ular"]
    assert payload["results"][0]["metrics"]["NDCG@10"] == 0.2
    assert payload["results"][0]["metrics"]["ILD@10"] is None  # NaN is not JSON
    assert payload["results"][0]["intervals"]["NDCG@10"] == pytest.approx([0.19, 0.22])
    assert payload["comparisons"][0]["diff"] == pytest.approx(0.1)

    text = paths["markdown"].read_text()
    assert text.startswith("# toy data")
    assert "| ease | 0.2000 [0.1900, 0.2200] | 0.4000 [0.3800, 0.4200] | 321.5 | n/a | 3 |" in text
    assert "| pop\\|ular |" in text and "## Paired comparisons" in text and "report.png" in text

    image = matplotlib.image.imread(paths["plot"])
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def test_markdown_table_marks_missing_metrics() -> None:
    table = markdown_table([result("a", 0.3), result("b", 0.1, with_ild=False)], ["NDCG@10", "ILD@10", "Gini@10"])
    lines = table.strip().splitlines()
    assert lines[0] == "| model | NDCG@10 | ILD@10 | Gini@10 | users |"
    assert lines[2] == "| a | 0.3000 [0.2900, 0.3200] | n/a | - | 3 |"
    assert lines[3] == "| b | 0.1000 [0.0900, 0.1200] | - | - | 3 |"


def test_comparison_table() -> None:
    row = comparison_table([comparison()]).strip().splitlines()[2]
    assert row == "| NDCG@10 | ease | pop\\|ular | 0.2000 | 0.1000 | +0.1000 | [0.0500, 0.1500] | 0.0010 | 3 |"


def test_empty_report_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_report([], tmp_path, title="nothing")
