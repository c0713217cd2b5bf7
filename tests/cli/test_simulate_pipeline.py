"""`lmrec simulate --pipeline`: a declared pipeline run request by request beside the batched policies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.simulation.replay import PIPELINE_LOG_COLUMNS

runner = CliRunner()
SMALL_SHOP = ["--world", "shop", "--shop-users", "60", "--shop-items", "40", "--item-vectors", "interactions"]
FAST = ["--rounds", "400", "--batch", "100", "-k", "5"]
PIPELINE = """
[[retrievers]]
kind = "model"
n = 50
[[retrievers]]
kind = "fresh"
n = 5
[reranker]
name = "mmr"
config.weights = { diversity = 0.3 }
[policy]
name = "epsilon"
config.epsilon = 0.1
"""


def simulate(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["simulate", *args])
    return result.exit_code, result.output


def test_pipeline_runs_beside_the_policies_in_the_same_report(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.toml"
    config.write_text(PIPELINE)
    out, logs = tmp_path / "sim.json", tmp_path / "logs"
    code, output = simulate(
        *SMALL_SHOP, *FAST, "--policy", "greedy", "--pipeline", str(config), "--output", str(out),
        "--log-dir", str(logs),
    )  # fmt: skip
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert list(payload["policies"]) == ["greedy", "pipeline-epsilon"]
    greedy, piped = payload["policies"]["greedy"], payload["policies"]["pipeline-epsilon"]
    assert set(piped) == set(greedy)  # the same metrics, so the same JSON shape
    assert piped["oracle_reward"] == greedy["oracle_reward"]  # the same users, clock and truth
    assert piped["rounds"] == 400 and piped["item_impressions"] == 400 * 5
    assert piped["config"]["policy"] == {"name": "epsilon", "config": {"epsilon": 0.1}}  # the whole declaration
    assert payload["settings"]["pipelines"] == [{"file": str(config), "name": "pipeline-epsilon"}]
    assert "clicks_lift" in payload["vs_greedy"]["pipeline-epsilon"]
    assert "pipeline-epsilon" in output
    log = np.load(logs / "pipeline-epsilon.npz")
    assert len(log["item"]) == 400 * 5
    assert ((log["propensity"] > 0) & (log["propensity"] <= 1)).all() and (log["propensity"] < 1).any()
    requests = pd.read_parquet(logs / "pipeline-epsilon.parquet")  # the pipeline log, external ids
    assert list(requests.columns) == [*PIPELINE_LOG_COLUMNS, "query", "pipeline_version"]
    assert requests["pipeline_version"].nunique() == 1  # one pipeline served the run
    np.testing.assert_array_equal(requests["propensity"], log["propensity"])
    assert not (logs / "greedy.parquet").exists()  # batched policies have no queries to replay


def test_pipeline_alone_and_missing_choices(tmp_path: Path) -> None:
    config = tmp_path / "greedy.json"
    config.write_text(json.dumps({"retrievers": [{"kind": "model"}], "reranker": {"name": "relevance"}}))
    out = tmp_path / "alone.json"
    code, output = simulate(*SMALL_SHOP, *FAST, "--pipeline", str(config), "--output", str(out))
    assert code == 0, output
    assert list(json.loads(out.read_text())["policies"]) == ["pipeline-greedy"]
    code, output = simulate(*SMALL_SHOP, *FAST, "--output", str(out))
    assert code == 64 and "give --policy, --pipeline or both" in output
    config.write_text(json.dumps({"pool": 0}))
    code, output = simulate(*SMALL_SHOP, *FAST, "--pipeline", str(config), "--output", str(out))
    assert code == 64 and "pool" in output


def test_several_pipelines_side_by_side(tmp_path: Path) -> None:
    """Two pipelines with one policy are told apart by their files; each is its own run."""
    diverse, plain = tmp_path / "diverse.toml", tmp_path / "plain.toml"
    diverse.write_text(PIPELINE)
    plain.write_text(PIPELINE.replace('name = "mmr"\nconfig.weights = { diversity = 0.3 }', 'name = "relevance"'))
    out = tmp_path / "sim.json"
    code, output = simulate(
        *SMALL_SHOP, *FAST, "--pipeline", str(diverse), "--pipeline", str(plain), "--output", str(out)
    )
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert list(payload["policies"]) == ["pipeline-diverse", "pipeline-plain"]
    runs = payload["policies"]
    assert runs["pipeline-diverse"]["config"]["reranker"]["name"] == "mmr"
    assert runs["pipeline-plain"]["config"]["reranker"]["name"] == "relevance"
    assert runs["pipeline-diverse"]["diversity"] > runs["pipeline-plain"]["diversity"]  # what MMR is for
    assert [p["name"] for p in payload["settings"]["pipelines"]] == ["pipeline-diverse", "pipeline-plain"]
    code, output = simulate(
        *SMALL_SHOP, *FAST, "--pipeline", str(plain), "--pipeline", str(plain), "--output", str(out)
    )
    assert code == 64 and "share a name" in output
