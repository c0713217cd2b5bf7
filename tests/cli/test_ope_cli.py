"""`lmrec ope` end to end: a log with a known answer, the Open Bandit files, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


def _uniform_log(path: Path, rounds: int = 4_000, seed: int = 0) -> None:
    """3 items, 1 slot, shown uniformly at random; item i is clicked with probability (i + 1) / 10."""
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 3, size=rounds)
    clicks = (rng.random(rounds) < (items + 1) / 10).astype(int)
    frame = pd.DataFrame(
        {"round": np.arange(rounds), "position": 0, "item": items, "reward": clicks, "propensity": 1 / 3}
    )
    frame.to_csv(path, index=False)


def test_uniform_target_on_a_uniform_log_recovers_the_mean_click_rate(tmp_path: Path) -> None:
    _uniform_log(tmp_path / "log.csv")
    out = tmp_path / "ope.json"
    result = runner.invoke(
        app,
        [
            "ope",
            "--log",
            str(tmp_path / "log.csv"),
            "--target",
            "uniform",
            "--output",
            str(out),
            "--n-bootstrap",
            "200",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert set(payload["estimators"]) == {"ips", "snips", "dr", "switch_dr"}
    for estimate in payload["estimators"].values():
        assert abs(estimate["value"] - 0.2) < 0.02  # the true value: mean of 0.1, 0.2, 0.3
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
    args = ["ope", "--log", str(tmp_path / "log.csv"), "--target", "uniform", "--interval", "likelihood"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "el.json")])
    assert result.exit_code == 0 and "likelihood interval" in result.output, result.output
    for name, estimate in json.loads((tmp_path / "el.json").read_text())["estimators"].items():
        assert estimate["value"] == payload["estimators"][name]["value"]  # the same estimate, another interval
        assert (
            estimate["low"] < estimate["value"] < estimate["high"]
            and estimate["low"] != payload["estimators"][name]["low"]
        )
    result = runner.invoke(app, [*args[:-2], "--n-bootstrap", "0", "-o", str(tmp_path / "none.json")])
    assert result.exit_code == 0 and "nan" not in result.output, result.output  # no interval, and the table says so
    for name, estimate in json.loads((tmp_path / "none.json").read_text())["estimators"].items():
        assert estimate["value"] == payload["estimators"][name]["value"] and estimate["low"] is None
    result = runner.invoke(app, [*args[:-1], "psychic"])
    assert result.exit_code != 0 and "interval" in result.output, result.output
    log = str(tmp_path / "log.csv")
    result = runner.invoke(app, ["ope", "--log", log, "--pipeline", log, "--full-support"])
    assert result.exit_code != 0 and "--full-support does not apply" in result.output, result.output


def test_another_logs_mix_is_the_target_and_its_mean_the_truth(tmp_path: Path) -> None:
    _uniform_log(tmp_path / "log.csv")
    rng = np.random.default_rng(1)
    best = pd.DataFrame({"round": np.arange(500), "position": 0, "item": 2, "propensity": 1.0})
    best["reward"] = (rng.random(500) < 0.3).astype(int)
    best.to_csv(tmp_path / "best.csv", index=False)
    out = tmp_path / "ope.json"
    args = ["ope", "--log", str(tmp_path / "log.csv"), "--target-log", str(tmp_path / "best.csv"), "--output", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["truth"] == best["reward"].mean()
    assert abs(payload["estimators"]["snips"]["value"] - 0.3) < 0.04


def test_a_held_interval_leaning_on_few_rounds_is_noted(tmp_path: Path) -> None:
    """Target: always item 2; a uniform log of 3 items gives the rounds that showed item 2 weight 3
    (excess 2) and the rest 0, so half the excess sits on half of those rounds, rounded up."""
    pd.DataFrame({"round": [0], "position": 0, "item": 2, "propensity": 1.0, "reward": 1}).to_csv(
        tmp_path / "best.csv", index=False
    )
    for rounds in (30, 4_000):
        _uniform_log(tmp_path / "log.csv", rounds=rounds)
        shown = int((pd.read_csv(tmp_path / "log.csv")["item"] == 2).sum())
        out = tmp_path / f"held-{rounds}.json"
        args = ["ope", "--log", str(tmp_path / "log.csv"), "--target-log", str(tmp_path / "best.csv")]
        result = runner.invoke(app, [*args, "--interval", "likelihood", "--full-support", "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text())["heavy_rounds"] == (shown + 1) // 2
        assert ("rounds carry half" in result.output) == (rounds == 30), result.output
    plain = tmp_path / "plain.json"
    result = runner.invoke(app, [*args, "--interval", "likelihood", "--output", str(plain)])
    assert result.exit_code == 0 and json.loads(plain.read_text())["heavy_rounds"] is None  # nothing held


def test_open_bandit_files(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "open-bandit"
    out = tmp_path / "obd.json"
    args = ["ope", "--log", str(folder / "random/all/all.csv"), "--target-log", str(folder / "bts/all/all.csv")]
    result = runner.invoke(app, [*args, "--output", str(out), "--n-bootstrap", "100"])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["rows"] == 10_000 and 0.003 < payload["truth"] < 0.006
    assert all(0.0 < e["value"] < 0.02 for e in payload["estimators"].values())
    held = tmp_path / "held.json"
    result = runner.invoke(app, [*args, "--output", str(held), "--interval", "likelihood", "--full-support"])
    assert result.exit_code == 0, result.output
    assert json.loads(held.read_text())["weight_constraint"]
    assert json.loads(held.read_text())["heavy_rounds"] >= 10 and "rounds carry half" not in result.output
    estimates = json.loads(held.read_text())["estimators"]
    # held to E[w] = 1 (the random log shows every item), IPS and SNIPS bound the same E[w r] / E[w]
    assert (estimates["ips"]["low"], estimates["ips"]["high"]) == pytest.approx(
        (estimates["snips"]["low"], estimates["snips"]["high"]), rel=1e-6
    )
    assert estimates["ips"]["low"] < payload["truth"] < estimates["ips"]["high"]


def test_bad_logs_are_named(tmp_path: Path) -> None:
    pd.DataFrame({"round": [0], "item": [0], "reward": [1], "propensity": [0.5]}).to_csv(
        tmp_path / "a.csv", index=False
    )
    result = runner.invoke(app, ["ope", "--log", str(tmp_path / "a.csv"), "--target", "uniform"])
    assert result.exit_code != 0 and "position" in result.output
    pd.DataFrame({"round": [0], "position": [0], "item": [0], "reward": [1], "propensity": [0.0]}).to_csv(
        tmp_path / "b.csv", index=False
    )
    result = runner.invoke(app, ["ope", "--log", str(tmp_path / "b.csv"), "--target", "uniform"])
    assert result.exit_code != 0 and "propensity" in result.output
    result = runner.invoke(app, ["ope", "--log", str(tmp_path / "b.csv")])
    assert result.exit_code == 64 and "--target-log" in result.output


HEADER = "round,position,item,reward,propensity\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0,0,1,1,0.5\n1,0,x,0,0.2\n", "row 3, field 'item': must be a number (got 'x')"),
        ("0,0,1,1,0.5\n1,0.5,2,0,0.2\n", "row 3, field 'position': must be an integer (got 0.5)"),
        ("0,0,1,1,0.5\n1,0,2,yes,0.2\n", "row 3, field 'reward': must be a number (got 'yes')"),
        ("0,0,1,1,0.5\n0,1,2,0,1.5\n", "row 3, field 'propensity': must be a probability in (0, 1] (got 1.5)"),
        ("0,0,1,1,0.5\n1,0,-2,0,0.2\n", "row 3, field 'item'"),
        ("", "the log has no rows"),
    ],
)
def test_a_bad_log_entry_is_named_by_its_line(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(HEADER + rows)
    result = runner.invoke(app, ["ope", "--log", str(path), "--target", "uniform"])
    assert result.exit_code == 65, result.output
    assert message in " ".join(result.output.split()), result.output
