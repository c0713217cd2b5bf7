"""`lmrec recommend --pipeline` end to end, in-process: a small shop in a store, EASE trained on it."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.data.dataset import Dataset
from lmrec.data.ingest import import_path
from lmrec.data.store import Store
from lmrec.data.synthetic import ShopConfig, generate_shop, write_shop
from lmrec.models import load_model
from lmrec.pipeline.pipeline import Pipeline, PipelineConfig, Query
from lmrec.simulation.likelihood import RELIABLE_HEAVY_UNITS
from lmrec.simulation.replay import pipeline_log

runner = CliRunner()

GREEDY = """
k = 5
[[retrievers]]
kind = "model"
n = 50
[[retrievers]]
kind = "trending"
n = 10
[[retrievers]]
kind = "fresh"
n = 5
[reranker]
name = "relevance"
[policy]
name = "greedy"
"""
EXPLORING = """
k = 5
pool = 15
[[retrievers]]
kind = "model"
n = 50
[[retrievers]]
kind = "trending"
n = 10
[reranker]
name = "relevance"
[policy]
name = "epsilon"
config.epsilon = 0.3
"""
#: The same with stages that read item text vectors: a text retriever and MMR diversity.
WITH_TEXT = EXPLORING.replace('kind = "trending"', 'kind = "text"').replace(
    'name = "relevance"', 'name = "mmr"\nconfig.weights = { diversity = 0.5 }'
)
#: A table row's first line: rank, item id, the start of its title, score, source, propensity, explored.
ROW = re.compile(r"^\s*(\d+) │ (\S+)\s+│.*│\s*(-?[\d.]+) │ (\S+)\s+│\s+([\d.]+) │ (yes|no)\s+│ (.*)$")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Dataset]:
    """A store holding a small shop, and EASE trained on it with `lmrec train`."""
    folder = tmp_path_factory.mktemp("shop")
    files = write_shop(generate_shop(ShopConfig(n_users=80, n_items=60, seed=0)), folder / "files")
    store = f"sqlite:///{folder / 'shop.db'}"
    opened = Store.open(store)
    for kind in ("items", "users", "events"):  # items and users first, so events find their rows
        import_path(opened, files[kind], format="jsonl")
    model_dir = folder / "ease"
    result = runner.invoke(app, ["train", "--model", "ease", "--store", store, "--output", str(model_dir)])
    assert result.exit_code == 0, result.output
    return store, model_dir, opened.dataset()


def recommend(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["recommend", *args])
    return result.exit_code, result.output


def rows(output: str) -> list[tuple[str, ...]]:
    return [match.groups() for line in output.splitlines() if (match := ROW.match(line))]


def test_greedy_pipeline_prints_sources_propensities_one_and_reasons(
    tmp_path: Path, shop: tuple[str, Path, Dataset]
) -> None:
    store, model_dir, data = shop
    config = tmp_path / "greedy.toml"
    config.write_text(GREEDY)
    code, out = recommend(str(model_dir), "--user", "u01", "--store", store, "--pipeline", str(config))
    assert code == 0, out
    for header in ("rank", "item", "title", "score", "source", "propensity", "explored", "reason"):
        assert header in out
    shown = rows(out)
    assert [int(r[0]) for r in shown] == [1, 2, 3, 4, 5]  # the config's k
    assert all(r[4] == "1.0000" and r[5] == "no" for r in shown)  # greedy: every shown item surely
    assert all(r[3].split("+")[0] in ("model", "trending", "fresh") for r in shown)
    assert all(r[6].startswith(f"found by {r[3]}") for r in shown)
    model = load_model(model_dir)
    expected = Pipeline(PipelineConfig.from_file(config), model, data).recommend(Query(user_id="u01"))
    assert [r[1] for r in shown] == expected.ids.tolist()  # what the Pipeline object shows in Python
    seen = set(data.items.id(model.user_histories(["u01"]).row(0)).tolist())
    assert seen and not seen & {r[1] for r in shown}


def test_exploring_pipeline_logs_propensities_and_replays_a_request_id(
    tmp_path: Path, shop: tuple[str, Path, Dataset]
) -> None:
    store, model_dir, _ = shop
    config = tmp_path / "exploring.json"
    config.write_text(json.dumps(tomllib.loads(EXPLORING)))  # JSON declares the same as TOML
    args = (str(model_dir), "--user", "u02", "--store", store, "--pipeline", str(config), "-k", "4")
    code, out = recommend(*args, "--request-id", "r7")
    assert code == 0, out
    shown = rows(out)
    assert len(shown) == 4  # -k over the config's k
    assert all(0 < float(r[4]) < 1 for r in shown)  # epsilon: any slot could have held another item
    assert "epsilon policy" in out
    assert recommend(*args, "--request-id", "r7") == (code, out)  # the same request draws the same list
    code, out = recommend(*args, "--request-id", "r7", "--explore", "epsilon=0")  # this request explores nothing
    assert code == 0, out
    assert all(float(r[4]) == 1.0 and r[5] == "no" for r in rows(out)) and "epsilon policy" in out
    code, out = recommend(*args, "--explore", "name=greedy")
    assert code == 0 and "greedy policy" in out, out
    code, out = recommend(*args, "--explore", "epsilon")
    assert code == 64 and "--explore expects key=value" in out, out


@pytest.mark.parametrize(
    ("changes", "needed"),
    [
        ({}, True),  # the defaults: a text retriever and MMR
        ({"retrievers": [{"kind": "model"}], "reranker": {"name": "relevance"}}, False),
        ({"retrievers": [{"kind": "text"}], "reranker": {"name": "relevance"}}, True),
        ({"retrievers": [{"kind": "model"}], "reranker": {"name": "dpp"}}, True),
        ({"retrievers": [{"kind": "model"}], "reranker": {"name": "relevance"}, "policy": {"name": "ucb"}}, True),
        (
            {
                "retrievers": [{"kind": "fresh"}],
                "reranker": {"name": "relevance"},
                "policy": {"name": "cold_budget", "config": {"inner": "epsilon"}},
            },
            False,
        ),
    ],
)
def test_only_stages_that_read_text_make_recommend_embed_it(changes: dict[str, object], needed: bool) -> None:
    assert PipelineConfig.model_validate(changes).needs_item_vectors() is needed


@pytest.mark.slow  # loads the language model (15-20 s on a busy 2-core machine)
def test_pipeline_with_text_stages_embeds_the_catalogue(tmp_path: Path, shop: tuple[str, Path, Dataset]) -> None:
    store, model_dir, _ = shop
    config = tmp_path / "text.toml"
    config.write_text(WITH_TEXT)
    code, out = recommend(str(model_dir), "--user", "u02", "--store", store, "--pipeline", str(config))
    assert code == 0, out
    assert len(rows(out)) == 5


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({"policy": {"name": "psychic"}}, 64, "unknown policy 'psychic'"),
        ({"k": 0}, 64, "k"),
        ({"retrievers": [{"kind": "crystal"}]}, 64, "kind"),
    ],
)
def test_bad_pipeline_configs_name_the_culprit(
    tmp_path: Path, shop: tuple[str, Path, Dataset], extra: dict[str, object], code: int, fragment: str
) -> None:
    store, model_dir, _ = shop
    config = tmp_path / "bad.json"
    config.write_text(json.dumps(extra))
    got, out = recommend(str(model_dir), "--user", "u01", "--store", store, "--pipeline", str(config))
    assert got == code, out
    assert fragment in out


def test_pipeline_refuses_other_data_and_seen_items(tmp_path: Path, shop: tuple[str, Path, Dataset]) -> None:
    store, model_dir, _ = shop
    config = tmp_path / "greedy.toml"
    config.write_text(GREEDY)
    other = tmp_path / "ratings.csv"
    other.write_text("userId,movieId,rating,timestamp\nu1,m1,4,1000\nu1,m2,3,1001\nu2,m1,5,1002\n")
    code, out = recommend(str(model_dir), "--user", "u01", "--data", str(other), "--pipeline", str(config))
    assert code == 64 and "retrain" in out
    code, out = recommend(str(model_dir), "-u", "u01", "--store", store, "--pipeline", str(config), "--include-seen")
    assert code == 2 and "never shows" in out
    explained = ("--pipeline", str(config), "--explain-by", "mask")
    code, out = recommend(str(model_dir), "-u", "u01", "--store", store, *explained)
    assert code == 2 and "explains as its config" in out, out
    code, out = recommend(str(model_dir), "--user", "u01", "--data", str(other))
    assert code == 2 and "only apply with --pipeline" in out


def test_ope_estimates_a_pipeline_from_another_pipelines_log(tmp_path: Path, shop: tuple[str, Path, Dataset]) -> None:
    """The exploring pipeline's own log, replayed through its own config, gives every row weight 1
    (IPS is the logged mean reward); replayed through the greedy one, a row weighs 1 / propensity
    where it holds greedy's own pick for that slot and 0 elsewhere."""
    store, model_dir, data = shop
    exploring, greedy = tmp_path / "exploring.toml", tmp_path / "greedy.toml"
    exploring.write_text(EXPLORING)
    greedy.write_text(GREEDY.replace("k = 5", "k = 4"))
    logging = Pipeline(PipelineConfig.from_file(exploring), load_model(model_dir), data)
    rng = np.random.default_rng(0)
    users = [str(u) for u in data.users.ids[:60]]
    queries = [Query(user_id=u, k=4, request_id=f"r{t}") for t, u in enumerate(users)]
    shown = [logging.recommend(query) for query in queries]
    rewards = [(rng.random(len(s)) < 0.2).astype(float) for s in shown]
    log = pipeline_log(queries, shown, rewards, version=logging.version)
    log.to_parquet(tmp_path / "log.parquet")

    notes, covered, leaning = [], [], []

    def ope(config: Path, output: Path, *more: str) -> dict[str, Any]:
        args = ["ope", "--log", str(tmp_path / "log.parquet"), "--pipeline", str(config), "--model", str(model_dir)]
        result = runner.invoke(app, [*args, "--store", store, "--output", str(output), "--n-bootstrap", "50", *more])
        assert result.exit_code == 0, result.output
        notes.append("describes another pipeline than the one that wrote the log" in result.output)
        covered.append("can show every item the target would show" in result.output)
        leaning.append("rounds carry half" in result.output)
        return dict(json.loads(output.read_text()))

    own = ope(exploring, tmp_path / "own.json")
    assert own["estimators"]["ips"]["value"] == pytest.approx(log["reward"].mean(), rel=1e-12)
    assert own["rows"] == len(log) and own["rounds"] == len(users) and own["blind_mass"] is None
    other = ope(greedy, tmp_path / "greedy.json", "--logging-pipeline", str(exploring))
    assert other["target"] == str(greedy)
    target_version = Pipeline(PipelineConfig.from_file(greedy), load_model(model_dir), data).version
    versions = {"log": [logging.version], "target": target_version, "logging": logging.version}
    assert other["pipeline_versions"] == versions
    likelihood = ("--interval", "likelihood")
    held = ope(greedy, tmp_path / "held.json", "--logging-pipeline", str(exploring), *likelihood)
    assert held["weight_constraint"] and not other["weight_constraint"]
    assert 1 <= held["heavy_rounds"] <= len(users)
    assert leaning == [False, False, held["heavy_rounds"] < RELIABLE_HEAVY_UNITS]  # noted where it leans on few
    ips, snips = held["estimators"]["ips"], held["estimators"]["snips"]
    assert (ips["low"], ips["high"]) == pytest.approx((snips["low"], snips["high"]), rel=1e-6)  # both E[w r] / E[w]
    assert ope(exploring, tmp_path / "wrong.json", "--logging-pipeline", str(greedy))["blind_mass"] > 0
    wrong = ope(exploring, tmp_path / "wrong-held.json", "--logging-pipeline", str(greedy), *likelihood)
    assert not wrong["weight_constraint"]  # the log names another writer: its weights' mean is not known
    assert notes == [False, False, False, True, True]  # only where --logging-pipeline did not write the log
    assert covered == [False, True, True, False, False]  # said where the blind mass is known and 0
    assert other["blind_mass"] == 0.0  # greedy shows the top of the pool epsilon draws from
    picks = Pipeline(PipelineConfig.from_file(greedy), load_model(model_dir), data)
    rows = zip(log["user"], log["position"], strict=True)
    chosen = [picks.recommend(Query(user_id=u, k=4)).ids[slot] for u, slot in rows]
    weights = np.where(log["item"] == chosen, 1 / log["propensity"], 0.0)
    expected = float((weights * log["reward"]).mean())
    assert expected > 0 and other["estimators"]["ips"]["value"] == pytest.approx(expected, rel=1e-12)

    result = runner.invoke(app, ["ope", "--log", str(tmp_path / "log.parquet"), "--pipeline", str(greedy)])
    assert result.exit_code != 0 and "--pipeline needs --model" in result.output
    result = runner.invoke(app, ["ope", "--log", str(tmp_path / "log.parquet"), "--model", str(model_dir)])
    assert result.exit_code != 0 and "--format only apply with" in result.output

    # bad rows of a CSV log are named by their line (the header is line 1)
    for column, value, message in [
        ("position", "first", "row 4, field 'position': must be a number (got 'first')"),
        ("item", "no-such-item", "row 4, field 'item': is not in the target's catalogue (got 'no-such-item')"),
    ]:
        bad = log.astype({column: object})
        bad.loc[2, column] = value
        bad.to_csv(tmp_path / "bad.csv", index=False)
        args = ["ope", "--log", str(tmp_path / "bad.csv"), "--pipeline", str(greedy), "--model", str(model_dir)]
        result = runner.invoke(app, [*args, "--store", store])
        assert result.exit_code == 65 and message in " ".join(result.output.split()), result.output
