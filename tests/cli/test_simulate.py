"""`lmrec simulate` end to end, in-process, on a tiny shop and a tiny ratings file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lmrec.cli.simulate import simulate_command

app = typer.Typer()
app.command("simulate")(simulate_command)


@app.callback()
def _root() -> None:
    """A one-command app, so the command keeps its name as in `lmrec simulate`."""


runner = CliRunner()
SMALL_SHOP = ["--world", "shop", "--shop-users", "60", "--shop-items", "40", "--item-vectors", "interactions"]
FAST = ["--rounds", "600", "--batch", "100", "-k", "5"]


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["simulate", *args])
    return result.exit_code, result.output


def test_shop_simulation_writes_the_required_json_and_a_plot(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    code, output = invoke(*SMALL_SHOP, *FAST, "--policy", "greedy", "--policy", "ucb", "--output", str(out))
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert list(payload["policies"]) == ["greedy", "ucb"]
    for metrics in payload["policies"].values():
        for key in ("cumulative_reward", "regret", "ctr", "ctr_windows", "coverage", "new_items", "diversity"):
            assert key in metrics
    assert payload["world"]["kind"] == "shop"
    assert payload["settings"]["simulation"]["rounds"] == 600
    assert "clicks_lift" in payload["vs_greedy"]["ucb"]
    assert (tmp_path / "sim.png").read_bytes()[:4] == b"\x89PNG"
    assert "greedy" in output and "results written" in output


def test_policy_all_runs_every_policy_and_settings_reach_their_scope(tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    code, output = invoke(
        *SMALL_SHOP, *FAST, "--policy", "all", "--output", str(out), "--plot", str(tmp_path / "p.png"),
        "--set", "epsilon.epsilon=0.3", "--set", "agent.fresh=2", "--set", "simulation.windows=4",
    )  # fmt: skip
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert list(payload["policies"]) == ["greedy", "epsilon", "softmax", "thompson", "ucb", "cold_budget"]
    assert payload["policies"]["epsilon"]["config"]["epsilon"] == 0.3
    assert payload["settings"]["agent"]["fresh"] == 2
    assert len(payload["policies"]["greedy"]["ctr_windows"]) == 4
    assert (tmp_path / "p.png").is_file()


def test_impression_logs_are_written_for_off_policy_evaluation(tmp_path: Path) -> None:
    import numpy as np

    from lmrec.simulation.logs import ImpressionLog

    out, logs = tmp_path / "sim.json", tmp_path / "logs"
    code, output = invoke(
        *SMALL_SHOP, "--rounds", "300", "--batch", "100", "-k", "4", "--policy", "greedy", "--policy", "epsilon",
        "--log-dir", str(logs), "--output", str(out),
    )  # fmt: skip
    assert code == 0, output
    payload = json.loads(out.read_text())
    for name in ("greedy", "epsilon"):
        with np.load(logs / f"{name}.npz") as arrays:
            fields = {key: arrays[key].item() if arrays[key].ndim == 0 else arrays[key] for key in arrays.files}
            log = ImpressionLog(**fields)  # validates every row
        assert len(log) == payload["policies"][name]["item_impressions"]
        assert log.reward.sum() == payload["policies"][name]["cumulative_reward"]
    code, output = invoke(*SMALL_SHOP, "--policy", "thompson", "--log-dir", str(logs), "--output", str(out))
    assert code == 64 and "Python API" in output


def test_a_ratings_file_builds_a_semi_synthetic_world(tmp_path: Path) -> None:
    rows = [f"u{u},m{(u * 3 + s) % 30},4,{1_000_000 + 100 * u + s}" for u in range(40) for s in range(8)]
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("userId,movieId,rating,timestamp\n" + "\n".join(rows) + "\n")
    out = tmp_path / "semi.json"
    code, output = invoke(
        "--data", str(ratings), *FAST, "--policy", "greedy", "--policy", "oracle", "--item-vectors", "none",
        "--set", "world.truth_config={\"l2\": 5.0}", "--seed", "3", "--output", str(out),
    )  # fmt: skip
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert payload["world"]["kind"] == "semi-synthetic" and payload["world"]["new_items"] == 6
    assert payload["policies"]["oracle"]["regret"] == 0.0
    assert payload["policies"]["greedy"]["regret"] > 0.0


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--policy", "greedy"], 64, "exactly one"),
        (["--world", "shop", "--data", "x.csv", "--policy", "greedy"], 64, "exactly one"),
        (["--world", "mall", "--policy", "greedy"], 64, "unknown world 'mall'"),
        (["--world", "shop", "--policy", "bandit"], 64, "unknown policy 'bandit'"),
        (["--world", "shop", "--policy", "greedy", "--rounds", "0"], 64, "rounds"),
        (["--world", "shop", "--policy", "greedy", "--set", "color=red"], 64, "names no scope"),
        (["--world", "shop", "--policy", "greedy", "--drift", "-1"], 64, "drift"),
        (["--world", "shop", "--policy", "greedy", "--set", "agent.candidates=0"], 64, "candidates"),
        (["--data", "does-not-exist.csv", "--policy", "greedy"], 65, "does-not-exist"),
    ],
)
def test_bad_inputs_give_clear_errors(tmp_path: Path, args: list[str], code: int, fragment: str) -> None:
    exit_code, output = invoke(*args, "--output", str(tmp_path / "x.json"))
    assert exit_code == code, output
    assert fragment in output
    assert not (tmp_path / "x.json").exists()
