"""The `lmrec` command end to end, in-process, on real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.data.columns import Columns
from lmrec.models import load_model

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def write_ratings(path: Path, rows: list[str]) -> Path:
    path.write_text("userId,movieId,rating,timestamp\n" + "\n".join(rows) + "\n")
    return path


def small_ratings() -> list[str]:
    """12 users who each rate a run of 6 items out of 20, in time order."""
    rows = []
    for user in range(12):
        for step in range(6):
            item = (user * 3 + step) % 20
            rows.append(f"u{user},m{item},{1 + (user + step) % 5},{1_000_000 + 100 * user + step}")
    return rows


def test_help_lists_every_command() -> None:
    code, out = invoke("--help")
    assert code == 0
    for command in ("demo", "import", "train", "evaluate", "recommend", "models"):
        assert command in out


def test_console_script_runs() -> None:
    script = Path(sys.executable).parent / "lmrec"
    result = subprocess.run([str(script), "models"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "ease" in result.stdout and "l2" in result.stdout
    assert '"popularity"' in result.stdout and "EncoderConfig(" not in result.stdout  # defaults as --set takes them
    assert "explains by: occlusion, shapley, mask, gradient, attention (the first is the default)" in result.stdout


def test_import_reports_rejects_and_is_idempotent(tmp_path: Path) -> None:
    rows = [*small_ratings(), "u99,,4,1000", "u98,m1,4,not-a-time"]
    path = write_ratings(tmp_path / "ratings.csv", rows)
    store = f"sqlite:///{tmp_path / 'x.db'}"
    rejects = tmp_path / "rejects.jsonl"
    code, out = invoke("import", str(path), "--store", store, "--rejects", str(rejects))
    assert code == 0, out
    assert "2 rows rejected" in out
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert {line["field"] for line in lines} == {"item_id", "timestamp"}
    assert len(lines) == 2
    assert {line["value"] for line in lines} >= {"not-a-time"}

    code, out = invoke("import", str(path), "--store", store, "--rejects", str(rejects))
    assert code == 0, out
    from lmrec.data.store import Store

    assert Store.open(store).counts()["events"] == len(rows) - 2
    one_bad = write_ratings(tmp_path / "one_bad.csv", [*small_ratings(), "u97,m1,4,not-a-time"])
    code, out = invoke("import", str(one_bad), "--store", store, "--rejects", str(rejects))
    assert code == 0 and "1 row rejected" in out, out


def test_evaluate_writes_required_metrics(tmp_path: Path) -> None:
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    out_file = tmp_path / "out.json"
    code, out = invoke(
        "evaluate", "--data", str(path), "--model", "popularity", "--model", "ease", "--output", str(out_file)
    )
    assert code == 0, out
    payload = json.loads(out_file.read_text())
    for metric in ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR"):
        assert isinstance(payload["metrics"][metric], float)
        assert 0.0 <= payload["metrics"][metric] <= 1.0
    assert set(payload["models"]) == {"popularity", "ease"}
    assert payload["split"] == "leave-last-out"
    assert payload["comparisons"][0]["metric"] == "NDCG@10"
    assert all(entry["fit_seconds"] >= 0.0 for entry in payload["models"].values())


def test_evaluate_says_when_the_test_items_are_new(tmp_path: Path) -> None:
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    out_file = tmp_path / "out.json"
    code, out = invoke("evaluate", "--data", str(path), "-m", "ease", "--split", "held-out-items", "-o", str(out_file))
    assert code == 0, out
    note = "every test item of the held-out-items split is new (no training interaction): a model that knows items"
    assert note in " ".join(out.split()), out
    code, out = invoke("evaluate", "--data", str(path), "-m", "ease", "-o", str(out_file))
    assert code == 0 and "is new" not in out, out  # leave-last-out: the test items are known


def test_evaluate_records_each_models_settings_and_training_report(tmp_path: Path) -> None:
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    out_file = tmp_path / "out.json"
    small = ["dim=16", "max_len=10", "epochs=4", "min_steps=0", 'item_parts=["id"]']
    settings = [arg for value in small for arg in ("--set", f"sasrec.{value}")]
    code, out = invoke(
        "evaluate", "--data", str(path), "-m", "ease", "-m", "sasrec", "--set", "ease.l2=7", *settings,
        "--output", str(out_file),
    )  # fmt: skip
    assert code == 0, out
    models = json.loads(out_file.read_text())["models"]
    assert models["ease"]["config"]["l2"] == 7 and "training" not in models["ease"]
    assert models["sasrec"]["config"]["dim"] == 16
    training = models["sasrec"]["training"]
    assert training["epochs"] == 4 and [h["epoch"] for h in training["history"]] == [2, 4]
    assert training["steps"] >= 4


def test_train_then_recommend(tmp_path: Path) -> None:
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    model_dir = tmp_path / "model"
    code, out = invoke("train", "--model", "ease", "--data", str(path), "--set", "l2=10", "--output", str(model_dir))
    assert code == 0, out
    assert json.loads((model_dir / "config.json").read_text())["config"]["l2"] == 10
    assert f"(version {load_model(model_dir).version()})" in out.replace("\n", "")
    code, out = invoke("recommend", str(model_dir), "--user", "u0", "-k", "3")
    assert code == 0, out
    assert "ease: top 3 for u0" in out and "note:" not in out, out
    assert len(re.findall(r"^ +\d+ │ m\d+ ", out, flags=re.MULTILINE)) == 3, out
    code, out = invoke("recommend", str(model_dir), "--user", "u0", "-k", "20")  # u0 has 6 of the 20 items
    assert code == 0 and "ease: top 14 for u0" in out, out
    note = "only 14 of the model's 20 items can be shown; items in the history are left out"
    assert note in " ".join(out.split()), out  # the note wraps at the terminal's width
    code, out = invoke("recommend", str(model_dir), "--user", "u0", "-k", "20", "--include-seen")
    assert code == 0 and "ease: top 20 for u0" in out and "note:" not in out, out
    code, out = invoke("recommend", str(model_dir), "--user", "nobody", "-k", "25")  # no history: nothing left out
    assert code == 0 and "ease: top 20 for nobody" in out, out
    assert "the model knows only 20 items" in out and "left out" not in out, out
    strict = tmp_path / "strict"
    code, out = invoke("train", "--model", "ease", "--data", str(path), "--set", "fallback=nan", "-o", str(strict))
    assert code == 0, out
    code, out = invoke("recommend", str(strict), "--user", "nobody")
    out = " ".join(out.split())  # an empty table wraps its title
    assert code == 0 and "ease: top 0 for nobody" in out, out
    assert "ease's fallback is nan: it scores no item" in out and "can be shown" not in out, out


def test_train_reports_how_sasrec_trained(tmp_path: Path) -> None:
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    small = ["dim=16", "max_len=10", "epochs=4", "min_steps=0", 'item_parts=["id"]']
    code, out = invoke(
        "train", "--model", "sasrec", "--data", str(path), *(a for v in small for a in ("--set", v)),
        "--output", str(tmp_path / "model"),
    )  # fmt: skip
    assert code == 0, out
    assert re.search(r"4 epochs \(\d+ steps\), best epoch [24] at validation NDCG@10 \d\.\d{4}; refit", out), out


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("evaluate", "--data", "{data}", "--model", "nope", "--output", "{out}"), 64, "unknown model 'nope'"),
        (
            ("evaluate", "--data", "{data}", "--model", "ease", "--split", "bad", "--output", "{out}"),
            64,
            "unknown split",
        ),
        (("evaluate", "--data", "{data}", "--model", "ease", "-k", "0", "--output", "{out}"), 2, "'-k'"),
        (("train", "--model", "ease", "--data", "{data}", "--set", "l2=-1", "--output", "{out}"), 64, "l2"),
        (("train", "--model", "ease", "--data", "{data}", "--set", "nonsense", "--output", "{out}"), 64, "key=value"),
        (("train", "--model", "ease", "--data", "{data}", "--config", "[1]", "--output", "{out}"), 64, "JSON object"),
        (("train", "--model", "ease", "--store", "{tmp}/typo.db", "--output", "{out}"), 74, "no store at"),
        (("evaluate", "-m", "ease", "--store", "sqlite:///{tmp}/typo.db", "-o", "{out}"), 74, "no store at"),
        (("train", "--model", "ease", "--data", "{data}", "--output", "{data}/model"), 74, "Not a directory"),
        (("evaluate", "-m", "ease", "--data", "{data}", "-o", "{data}/out.json"), 74, "Not a directory"),
        (("evaluate", "-m", "ease", "--data", "{data}", "-o", "{tmp}"), 74, "Is a directory"),
        (("evaluate", "-m", "ease", "--data", "{data}", "-o", "{out}", "--report", "{data}"), 74, "Not a directory"),
        (("simulate", "--world", "shop", "--policy", "greedy", "-o", "{data}/s.json"), 74, "Not a directory"),
        (("ope", "--log", "{data}", "--target", "uniform", "-o", "{data}/o.json"), 74, "Not a directory"),
    ],
)
def test_bad_input_gives_clear_error_and_exit_code(
    tmp_path: Path, args: tuple[str, ...], code: int, fragment: str
) -> None:
    data = write_ratings(tmp_path / "ratings.csv", small_ratings())
    filled = [a.format(data=data, out=tmp_path / "out", tmp=tmp_path) for a in args]
    result = runner.invoke(app, filled)
    assert result.exit_code == code, result.output
    assert fragment in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings.csv"]  # nothing made: no store, no output


def test_recommend_names_a_missing_store_and_makes_none(tmp_path: Path) -> None:
    model_dir = tmp_path / "ease"
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    assert invoke("train", "--model", "ease", "--data", str(path), "--output", str(model_dir))[0] == 0
    code, out = invoke("recommend", str(model_dir), "--user", "u0", "--store", str(tmp_path / "typo.db"))
    assert code == 74 and f"no store at {tmp_path / 'typo.db'}" in " ".join(out.split()), out
    assert not (tmp_path / "typo.db").exists()


def test_evaluate_and_train_refuse_data_with_nothing_to_learn_or_test(tmp_path: Path) -> None:
    once = write_ratings(tmp_path / "once.csv", ["u1,m1,4,100", "u2,m2,5,101"])  # nobody has a next item
    out_file = tmp_path / "out.json"
    code, out = invoke("evaluate", "--data", str(once), "-m", "ease", "--output", str(out_file))
    assert code == 65 and "has no test users: there is nothing to evaluate" in " ".join(out.split()), out
    assert not out_file.exists()
    code, out = invoke("train", "--data", str(once), "-m", "sasrec", "--output", str(tmp_path / "m"))
    assert code == 65 and "no user has two or more interactions" in " ".join(out.split()), out
    empty = write_ratings(tmp_path / "empty.csv", [])
    code, out = invoke("train", "--data", str(empty), "-m", "ease", "--output", str(tmp_path / "m"))
    assert code == 65 and "the dataset has no items" in " ".join(out.split()), out
    assert not (tmp_path / "m").exists()


def test_evaluate_unknown_format_names_the_formats(tmp_path: Path) -> None:
    weird = tmp_path / "data.xyz"
    weird.write_text("hello\n")
    result = runner.invoke(app, ["evaluate", "--data", str(weird), "--model", "ease", "--output", str(tmp_path / "o")])
    assert result.exit_code == 65, result.output
    assert "format" in result.output.lower()


def test_demo_runs_on_a_small_shop(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    code, out = invoke(
        "demo", "--dir", str(folder), "--users", "150", "--items", "120", "-m", "popularity", "-m", "ease",
        "--rounds", "3000",
    )  # fmt: skip
    assert code == 0, out
    report = json.loads((folder / "report" / "report.json").read_text())
    assert report
    best = json.loads((folder / "models" / "best.json").read_text())
    assert best["model"] in {"popularity", "ease"}
    assert (Path(best["path"]) / "state.npz").is_file()
    simulated = json.loads((folder / "simulation" / "simulation.json").read_text())
    assert set(simulated["policies"]) == {"greedy", "cold_budget", "new_oracle"}
    assert simulated["settings"]["simulation"]["rounds"] == 3000
    assert simulated["policies"]["cold_budget"]["explored_share"] > 0  # the budget did show new products
    assert (folder / "simulation" / "simulation.png").is_file()


def test_recommend_explains_sequential_and_item_item_models(tmp_path: Path) -> None:
    path = write_ratings(tmp_path / "ratings.csv", small_ratings())
    model_dir = tmp_path / "sasrec"
    settings = ["--set", "epochs=3", "--set", "dim=16", "--set", "max_len=8"]
    code, out = invoke("train", "--model", "sasrec", "--data", str(path), *settings, "--output", str(model_dir))
    assert code == 0, out
    history = {f"m{i}" for i in range(6)}  # u0 rated m0 to m5
    ease_dir = tmp_path / "ease"
    assert invoke("train", "--model", "ease", "--data", str(path), "--output", str(ease_dir))[0] == 0
    code, out = invoke("recommend", str(ease_dir), "--history", "m1,zz9", "-k", "2")
    assert code == 0 and "1 of the 2 --history items is not in the model's catalogue: zz9" in out, out
    code, out = invoke("recommend", str(ease_dir), "--history", ",".join(["m1"] + [f"zz{i}" for i in range(7)]))
    expected = "7 of the 8 --history items are not in the model's catalogue: zz0, zz1, zz2, zz3, zz4, ..."
    assert code == 0 and expected in " ".join(out.split()), out
    code, out = invoke("recommend", str(ease_dir), "--user", "stranger", "-k", "2")
    assert code == 0 and "no history to go on; ease shows its popularity fallback" in out, out
    assert "user 'stranger' is not among the 12 users the model was trained on" in out, out
    for folder in (model_dir, ease_dir):
        code, out = invoke("recommend", str(folder), "--user", "u0", "-k", "3", "--explain")
        assert code == 0, out
        named = re.findall(r"(m\d+) \(\+\d", out)  # "m3 (+0.41)": a history item and its weight
        assert named and set(named) <= history, out
    code, out = invoke("recommend", str(model_dir), "--user", "u0", "-k", "3", "--explain-by", "shapley")
    assert code == 0 and set(re.findall(r"(m\d+) \(\+\d", out)) <= history, out
    model = load_model(model_dir)
    shown = model.recommend("u0", k=1, explain=1, explain_method="shapley")
    ((named, weight),) = shown.column(Columns.Because)[0]
    assert f"{named} (+{weight:.4f})" in out  # the CLI shows the model's own Shapley driver
    code, out = invoke("recommend", str(ease_dir), "--user", "u0", "--explain-by", "shapley")
    assert code != 0 and "ease explains by occlusion, not 'shapley'" in out, out
