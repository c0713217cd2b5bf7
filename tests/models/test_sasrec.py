"""What is special about the sequential transformer: padding, causality, the losses, the trainer's
validation against the evaluation protocol, and cold items scored through their text.

The shared contract (config, fit twice, save/load, batching, the two-tastes answer) runs from
`test_contract.py`.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.schema import validate_events, validate_items
from lmrec.data.splits import leave_last_out
from lmrec.diagnostics import ConfigError, DataError
from lmrec.evaluation.protocol import EvaluationConfig, evaluate
from lmrec.models import create_model, load_model
from lmrec.models.sequential import SASRec
from lmrec.models.sequential.explain import _kernel_shapley
from lmrec.models.sequential.model import attribute_tokens, cpu_has_bfloat16, resolve_precision
from lmrec.models.sequential.network import ByteDropout, IdEmbedding, ItemEncoder, SASRecNetwork, TextProjection
from lmrec.models.sequential.trainer import (
    TEXT_WEIGHT_SCALES,
    FullSoftmaxLoss,
    SampledSoftmaxLoss,
    Trainer,
    TrainerSettings,
    left_padded,
    length_batches,
    training_rows,
    trimmed,
)
from lmrec.testing.fixtures import two_tastes, two_tastes_with_new_items

SMALL = {"dim": 16, "epochs": 40, "eval_every": 5, "patience": 3, "max_len": 10, "learning_rate": 0.005}


def test_left_padding_keeps_the_newest_items_on_the_right() -> None:
    histories = Histories.from_lists([[5, 6, 7, 8], [1], []])
    np.testing.assert_array_equal(left_padded(histories, 3), [[7, 8, 9], [0, 0, 2], [0, 0, 0]])
    np.testing.assert_array_equal(left_padded(histories, 3, drop_last=1), [[6, 7, 8], [0, 0, 0], [0, 0, 0]])


def test_a_position_never_sees_later_items_or_padding() -> None:
    torch.manual_seed(0)
    network = SASRecNetwork(ItemEncoder([IdEmbedding(20, 8)]), max_len=6, dim=8, layers=2, heads=2, dropout=0.0)
    network.eval()
    base = torch.tensor([[0, 0, 3, 4, 5, 6]])
    changed_future = torch.tensor([[0, 0, 3, 4, 9, 10]])
    with torch.no_grad():
        a, b = network(base), network(changed_future)
    torch.testing.assert_close(a[:, 2:4], b[:, 2:4])  # positions before the change are unaffected
    assert not torch.allclose(a[:, 5], b[:, 5])
    with torch.no_grad():
        shorter = network(torch.tensor([[0, 0, 0, 0, 0, 3]]))
        longer_pad = network(torch.tensor([[0, 0, 0, 0, 0, 0, 0, 3]])[:, -6:])
    torch.testing.assert_close(shorter[:, -1], longer_pad[:, -1])


def test_trimming_shared_padding_changes_nothing_but_the_work() -> None:
    torch.manual_seed(1)
    network = SASRecNetwork(ItemEncoder([IdEmbedding(30, 8)]), max_len=8, dim=8, layers=2, heads=1, dropout=0.0)
    network.eval()
    rows = left_padded(Histories.from_lists([[3, 4, 5], [7], [1, 2]]), 8)
    short = trimmed(rows)
    assert short.shape == (3, 3)
    with torch.no_grad():
        full = network.last_hidden(torch.from_numpy(rows))
        cut = network.last_hidden(torch.from_numpy(short))
    torch.testing.assert_close(full, cut)
    assert trimmed(np.zeros((2, 5), dtype=np.int64)).shape == (2, 1)


def test_last_hidden_equals_the_full_forward_at_the_newest_position() -> None:
    """The fast path (only the newest position queries the last block, one text profile) against
    the plain one: the whole sequence through every block, then its last row."""
    torch.manual_seed(2)
    text = torch.randn(30, 12)
    items = ItemEncoder([IdEmbedding(30, 8), TextProjection(text, 8)], unit=text)
    network = SASRecNetwork(items, max_len=7, dim=8, layers=3, heads=2, dropout=0.0)
    network.eval()
    rows = torch.from_numpy(left_padded(Histories.from_lists([[3, 4, 5, 9, 1, 2, 7, 8], [7], [1, 2]]), 7))
    with torch.no_grad():
        fast = network.last_hidden(rows)  # (B, D + Dt)
        plain = network(rows)[:, -1]
    assert fast.shape == (3, 8 + 12)
    torch.testing.assert_close(fast, plain)


def test_byte_dropout_keeps_each_entry_with_probability_one_minus_p_and_the_mean() -> None:
    torch.manual_seed(0)
    dropout = ByteDropout(0.3)
    x = torch.ones(200_000)
    y = dropout(x)
    kept = float((y > 0).float().mean())
    assert kept == pytest.approx(1 - 77 / 256, abs=0.005)  # 0.3 rounds to 77 bytes in 256
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)  # kept entries are scaled up
    dropout.eval()
    assert torch.equal(dropout(x), x)
    assert torch.equal(ByteDropout(0.0)(x), x)


def test_length_batches_cover_every_row_once_with_similar_lengths() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 50, size=1_000)
    batches = length_batches(lengths, 10, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1_000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 5  # batches hold rows of similar length


def test_sampled_softmax_masks_negatives_that_are_the_target() -> None:
    table = torch.eye(4)  # (I + 1, D) with I = 3: item rows 1..3
    hidden = torch.tensor([[0.0, 2.0, 0.0, 0.0]])  # scores item 1 at 2, others 0
    loss = SampledSoftmaxLoss(negatives=50, generator=torch.Generator().manual_seed(0))
    value = loss(hidden, torch.tensor([1]), table)
    # 50 distinct negatives from 3 items is all three; item 1 is the target, so only 2 and 3 (score 0) count
    assert float(value) == pytest.approx(float(torch.log(1 + 2 * torch.exp(torch.tensor(-2.0)))))


def test_sampled_softmax_equals_cross_entropy_over_the_target_and_the_drawn_items() -> None:
    """Reference: draw the same negatives, build the (N, 1 + S) logits, mask hits, cross-entropy."""
    torch.manual_seed(0)
    table, hidden = torch.randn(41, 6), torch.randn(30, 6)  # items 1..40, 30 positions
    targets = torch.randint(1, 41, (30,))
    value = SampledSoftmaxLoss(10, torch.Generator().manual_seed(5))(hidden, targets, table)
    drawn = torch.randperm(40, generator=torch.Generator().manual_seed(5))[:10] + 1  # the same draw
    logits = torch.cat([(hidden * table[targets]).sum(-1, keepdim=True), hidden @ table[drawn].T], dim=1)
    logits[:, 1:] = logits[:, 1:].masked_fill(drawn.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
    assert bool((drawn.unsqueeze(0) == targets.unsqueeze(1)).any())  # the draw does hit some targets
    reference = torch.nn.functional.cross_entropy(logits, torch.zeros(30, dtype=torch.long))
    torch.testing.assert_close(value, reference)


@pytest.mark.parametrize("kind", ["full", "sampled"])
def test_under_bfloat16_autocast_the_losses_stay_float32(kind: str) -> None:
    """The products run in bfloat16 (the value moves by its rounding), the loss is float32 and close."""
    torch.manual_seed(0)
    table, hidden = torch.randn(41, 6), torch.randn(30, 6)
    targets = torch.randint(1, 41, (30,))

    def loss(t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        fn = FullSoftmaxLoss() if kind == "full" else SampledSoftmaxLoss(10, torch.Generator().manual_seed(5))
        return fn(h, targets, t)

    exact = loss(table, hidden)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = loss(table, hidden)
    assert low.dtype == torch.float32
    assert float(low) != float(exact)
    assert float(low) == pytest.approx(float(exact), rel=0.02)  # bfloat16 keeps about 3 significant digits


def test_auto_precision_takes_bfloat16_only_on_cpus_that_list_it() -> None:
    zen4 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
    skylake = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512vl\n"
    graviton3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
    assert cpu_has_bfloat16(zen4) and cpu_has_bfloat16(graviton3)
    assert not cpu_has_bfloat16(skylake) and not cpu_has_bfloat16("")
    assert not cpu_has_bfloat16("model name\t: bf16 in a name is not a flag\nflags\t\t: fpu\n")
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) is None and resolve_precision("bfloat16", cpu) is torch.bfloat16


def test_bfloat16_training_steps_learn_what_float32_ones_learn() -> None:
    data = two_tastes()
    runs = {
        p: SASRec({**SMALL, "epochs": 10, "eval_every": 10, "precision": p}).fit(data) for p in ("float32", "bfloat16")
    }
    low, exact = runs["bfloat16"], runs["float32"]
    assert not torch.equal(low.network.blocks[0].attention.qkv.weight, exact.network.blocks[0].attention.qkv.weight)
    assert low.network.blocks[0].attention.qkv.weight.dtype == torch.float32  # the weights stay float32
    assert low.report.best_ndcg == pytest.approx(exact.report.best_ndcg, abs=0.05)
    assert low.report.best_ndcg > 0.1


@pytest.mark.parametrize("text", [False, True], ids=["id", "id+text+similarity"])
def test_trainer_validation_equals_the_evaluation_protocol(text: bool) -> None:
    """The trainer holds out each user's last training item; the protocol's leave-last-out split of
    the same data asks the same question, so the two NDCG@10 must agree (with the text-similarity
    term: at the weight γ chosen on that validation, which the fitted model keeps; without a refit,
    which would replace the validated network)."""
    data = two_tastes()
    parts = {"item_parts": ["id", "text"], "text_similarity": True} if text else {}
    model = SASRec({**SMALL, "epochs": 10, "eval_every": 10, "refit": False, **parts}).fit(data)
    if text:
        assert model.report.text_weight == pytest.approx(float(model.network.log_gamma.detach().exp()))
    protocol = evaluate(model, leave_last_out(data), EvaluationConfig(n_bootstrap=0))
    assert model.report.best_ndcg == pytest.approx(protocol.metrics["NDCG@10"], abs=1e-6)
    assert model.report.best_ndcg > 0.1


def test_ndcg_per_row_is_the_protocols_per_user_ndcg_and_reads_marked_inputs() -> None:
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 10, "eval_every": 10, "refit": False}).fit(data)
    split = leave_last_out(data)
    protocol = evaluate(model, split, EvaluationConfig(n_bootstrap=0)).per_user.set_index(Columns.UserIdx)
    trainer = Trainer(model.network, FullSoftmaxLoss(), cpu_settings(1, 32, 1e-3, 1, 1), seed=0)
    inputs = left_padded(split.histories, SMALL["max_len"])
    targets = split.test.set_index(Columns.UserIdx)[Columns.ItemIdx].loc[split.histories.users].to_numpy() + 1
    per_row = trainer.ndcg_per_row(inputs, targets)
    assert per_row == pytest.approx(protocol["NDCG@10"].loc[split.histories.users].to_numpy(), abs=1e-6)
    assert trainer.validate(inputs, targets) == pytest.approx(per_row.mean())
    blank = np.zeros(inputs.shape, dtype=bool)
    assert np.array_equal(trainer.ndcg_per_row(inputs, targets, blank=blank), per_row)
    blank[:, -1] = True  # every user's newest item read as an unknown one
    assert not np.array_equal(trainer.ndcg_per_row(inputs, targets, blank=blank), per_row)


def cpu_settings(epochs: int, batch_size: int, learning_rate: float, patience: int, eval_every: int) -> TrainerSettings:
    """Trainer settings on the CPU, with no weight decay, minimum steps or time limit."""
    return TrainerSettings(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=0.0,
        patience=patience,
        min_steps=0,
        eval_every=eval_every,
        max_seconds=None,
        device=torch.device("cpu"),
    )


def test_the_text_weight_is_the_best_multiple_of_the_learned_one_on_validation() -> None:
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 3, "item_parts": ["id", "text"], "text_similarity": True}).fit(data)
    network = model.network
    histories = data.histories()
    inputs = left_padded(histories, SMALL["max_len"], drop_last=1)
    targets = histories.items[histories.indptr[1:] - 1] + 1
    settings = cpu_settings(epochs=1, batch_size=32, learning_rate=1e-3, patience=1, eval_every=1)
    trainer = Trainer(network, FullSoftmaxLoss(), settings, seed=0)
    learned = 1.7
    by_scale = {}
    for scale in TEXT_WEIGHT_SCALES:
        network.log_gamma.data.fill_(math.log(learned * scale))
        by_scale[scale] = trainer.validate(inputs, targets)
    assert len(set(by_scale.values())) > 1  # the weight matters here
    network.log_gamma.data.fill_(math.log(learned))
    scale, ndcg = trainer.calibrate_text_weight(inputs, targets)
    assert ndcg == max(by_scale.values()) >= by_scale[1.0]
    assert scale == min(s for s, v in by_scale.items() if v == ndcg)
    assert float(network.log_gamma.detach().exp()) == pytest.approx(learned * scale)


class _Marking(Trainer):
    """Marks every input position (`everything`) or none, as an explicit all-False mask."""

    def __init__(self, network: SASRecNetwork, settings: TrainerSettings, everything: bool) -> None:
        super().__init__(network, FullSoftmaxLoss(), settings, seed=0)
        self.everything = everything
        self.calls = 0

    def blanked(self, inputs: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.full(inputs.shape, self.everything) & (inputs > 0)


def test_the_blanked_hook_reaches_every_training_step() -> None:
    data = two_tastes()
    settings = cpu_settings(epochs=2, batch_size=8, learning_rate=1e-2, patience=5, eval_every=2)

    def network() -> SASRecNetwork:
        torch.manual_seed(0)
        return SASRecNetwork(ItemEncoder([IdEmbedding(data.n_items, 16)]), 10, 16, 1, 1, 0.0)

    def fitted_table(trainer: Trainer) -> torch.Tensor:
        trainer.fit(data.histories())
        return trainer.network.items.table().detach()

    none_marked, all_marked = _Marking(network(), settings, False), _Marking(network(), settings, True)
    plain = fitted_table(Trainer(network(), FullSoftmaxLoss(), settings, seed=0))
    assert torch.equal(fitted_table(none_marked), plain)  # an all-False mask is no mask
    assert not torch.allclose(fitted_table(all_marked), plain)  # the marks reach the network
    steps = 2 * math.ceil(len(training_rows(data.histories(), 10, drop_last=1)) / 8)
    assert none_marked.calls == all_marked.calls == steps


@pytest.mark.parametrize("settings", [{}, {"item_parts": ["id", "text"], "id_dropout": 0.3}], ids=["id", "id+text"])
def test_a_resumed_fit_ends_as_an_uninterrupted_one(tmp_path: Path, settings: dict[str, object]) -> None:
    """Two epochs, then a fit with four resuming from the checkpoint, give the weights, report and
    scores of four epochs in one go: the checkpoint carries the optimizer and every random state."""
    data = two_tastes()
    base = {**SMALL, "eval_every": 2, "patience": 10, "loss": "sampled", "negatives": 8, **settings}
    whole = SASRec({**base, "epochs": 4, "checkpoint_dir": str(tmp_path / "whole")}).fit(data)
    SASRec({**base, "epochs": 2, "checkpoint_dir": str(tmp_path / "parts")}).fit(data)
    stored = np.load(tmp_path / "parts" / "training.npz", allow_pickle=False)  # arrays, no pickle
    assert json.loads(str(stored["progress"]))["report"]["epochs"] == 2
    resumed = SASRec({**base, "epochs": 4, "checkpoint_dir": str(tmp_path / "parts")}).fit(data)
    assert resumed.report.epochs == 4 and [h["epoch"] for h in resumed.report.history] == [2, 4]
    assert resumed.report.history == whole.report.history
    for key, value in whole.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[key], value, rtol=0, atol=0)
    rows = Histories.from_lists([[0, 1, 2], [10, 11]])
    np.testing.assert_array_equal(resumed.score_histories(rows), whole.score_histories(rows))


def test_early_stopping_waits_for_the_minimum_number_of_steps() -> None:
    """Patience 1 ends a run at its first validation without a gain, but not before `min_steps`."""
    data = two_tastes()
    base = {**SMALL, "eval_every": 1, "patience": 1, "epochs": 60, "refit": False}
    eager = SASRec({**base, "min_steps": 0}).fit(data).report
    assert eager.epochs < 30  # stopped by patience, long before the epoch cap
    steps_per_epoch = eager.steps // eager.epochs
    waiting = SASRec({**base, "min_steps": 40 * steps_per_epoch}).fit(data).report
    assert waiting.steps >= 40 * steps_per_epoch and waiting.epochs >= 40
    assert waiting.history[: len(eager.history)] == eager.history  # the same run up to there


def test_a_run_out_of_time_validates_at_once_instead_of_at_the_next_validation_epoch() -> None:
    model = SASRec({**SMALL, "eval_every": 5, "max_minutes": 1e-6}).fit(two_tastes())
    assert model.report.epochs == 1 and [h["epoch"] for h in model.report.history] == [1]


def test_a_checkpoint_resumes_only_the_same_settings_and_data(tmp_path: Path) -> None:
    folder = str(tmp_path / "run")
    timed = {**SMALL, "eval_every": 1, "max_minutes": 1e-6, "checkpoint_dir": folder}  # out of time at once
    assert SASRec(timed).fit(two_tastes()).report.epochs == 1
    with pytest.raises(ConfigError, match=r"dim: 16 there, 8 now"):
        SASRec({**timed, "dim": 8}).fit(two_tastes())
    with pytest.raises(ConfigError, match="histories"):
        SASRec(timed).fit(two_tastes(seed=1))
    # the stored run had stopped (its time was up): it is loaded as it ended, not trained further
    assert SASRec(timed).fit(two_tastes()).report.epochs == 1


def test_a_refit_learns_the_step_that_validation_held_out() -> None:
    """Every user ends with `last-a` then `last-b`; `last-b` is each user's validation item, so the
    first network never sees it follow `last-a` (and ranks it among the 30 shoes). The refit,
    trained on every item for the best epoch count, does, and ranks it first after `last-a`."""
    rng = np.random.default_rng(0)
    users, items, stamps = [], [], []
    for u in range(160):
        sequence = [f"shoe-{i}" for i in rng.choice(30, 4, replace=False)] + ["last-a", "last-b"]
        users += [f"u{u}"] * len(sequence)
        items += sequence
        stamps += list(range(len(sequence)))
    events = pd.DataFrame({Columns.User: users, Columns.Item: items, Columns.Timestamp: np.asarray(stamps, float)})
    data = Dataset.from_frames(validate_events(events).valid)
    last_a, last_b = data.items.index(["last-a", "last-b"])
    history = Histories.from_lists([[int(last_a)]])
    ranks = {}
    for refit in (False, True):
        model = SASRec({**SMALL, "refit": refit}).fit(data)
        scores = model.score_histories(history)[0]
        ranks[refit] = int((scores > scores[last_b]).sum())
        assert (model.report.refit_seconds is not None) == refit
    assert ranks[True] == 0 and ranks[False] >= 10


def test_a_refit_keeps_the_multiple_of_the_text_weight_chosen_for_the_first_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The refit network's γ is its own learned γ times the multiple chosen for the first network:
    with 1 as the only multiple to choose from, the same refit ends at its learned γ alone."""
    settings = {**SMALL, "epochs": 4, "eval_every": 2, "item_parts": ["id", "text"], "text_similarity": True}
    first = SASRec({**settings, "refit": False}).fit(two_tastes())
    refit = SASRec(settings).fit(two_tastes())
    scale = refit.report.text_weight_scale
    assert scale == first.report.text_weight_scale and scale != 1.0  # a multiple other than 1 was chosen
    assert refit.report.text_weight == pytest.approx(float(refit.network.log_gamma.detach().exp()))
    monkeypatch.setattr("lmrec.models.sequential.trainer.TEXT_WEIGHT_SCALES", (1.0,))
    learned = SASRec(settings).fit(two_tastes()).report.text_weight
    assert learned != pytest.approx(first.report.text_weight / scale)  # the refit learned a γ of its own
    assert refit.report.text_weight == pytest.approx(learned * scale, rel=1e-4)


def _with_a_new_shoe() -> Dataset:
    """two_tastes plus `shoe-new`, a running shoe nobody has touched yet."""
    return two_tastes_with_new_items({"shoe-new": "trail running shoes for runners"})


def _new_shoe_mean_rank(**settings: object) -> float:
    """How many items, on average, SASRec (id + text, `settings` on top) scores above the new shoe for
    the twenty shoe lovers: 0 means first."""
    data = _with_a_new_shoe()
    new = int(data.items.index(["shoe-new"])[0])
    model = SASRec({**SMALL, "item_parts": ["id", "text"], **settings}).fit(data)
    scores = model.score_histories(model.user_histories([f"shoe-{u}" for u in range(20)]))
    return float(np.mean((scores > scores[:, [new]]).sum(axis=1)))


def test_a_never_seen_item_is_scored_through_its_text() -> None:
    data = _with_a_new_shoe()
    new = int(data.items.index(["shoe-new"])[0])
    kitchen = data.items.index([f"kitchen-{i}" for i in range(10)])
    fused = SASRec({**SMALL, "item_parts": ["id", "text"]}).fit(data)
    shoe_users = fused.user_histories([f"shoe-{u}" for u in range(20)])
    scores = fused.score_histories(shoe_users)
    assert (scores[:, new] > scores[:, kitchen].max(axis=1)).mean() > 0.9
    id_only = SASRec({**SMALL, "epochs": 5, "item_parts": ["id"]}).fit(data)
    assert not id_only.item_vectors()[new].any()  # nothing learned about it: a zero vector, not a random one
    assert id_only.item_vectors()[kitchen].any(axis=1).all()


def test_attribute_tokens_cover_category_brand_and_tags() -> None:
    items = pd.DataFrame(
        {
            Columns.Item: ["a", "b", "c"],
            Columns.Category: ["Beauty > Hair", "Beauty > Hair", ""],
            Columns.Brand: ["Acme", "", ""],
            Columns.Tags: [["attribute 1"], ["attribute 1", "attribute 7"], []],
        }
    )
    events = pd.DataFrame({Columns.User: ["u"], Columns.Item: ["a"], Columns.Timestamp: [1.0]})
    data = Dataset.from_frames(validate_events(events).valid, validate_items(items).valid)
    tokens = attribute_tokens(data)
    assert tokens.shape == (3, 3)
    assert sorted(tokens[0][tokens[0] > 0]) == [1, 2, 3]  # category, brand, tag
    assert set(tokens[1][tokens[1] > 0]) == {1, 3, 4}  # shares the category and "attribute 1" with a
    assert (tokens[2] == 0).all()
    model = SASRec({**SMALL, "epochs": 2})
    assert model._choose_parts(data) == ("id", "attributes")


def test_loaded_model_scores_without_the_language_model(tmp_path: Path) -> None:
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 5, "item_parts": ["id", "text"]}).fit(data)
    model.save(tmp_path / "sasrec")
    expected = model.score_histories(Histories.from_lists([[0, 1], [12]]))
    np.save(tmp_path / "expected.npy", expected)
    script = (
        "import sys, numpy as np\n"
        "from lmrec.data.dataset import Histories\n"
        "from lmrec.models import load_model\n"
        f"model = load_model({str(tmp_path / 'sasrec')!r})\n"
        "scores = model.score_histories(Histories.from_lists([[0, 1], [12]]))\n"
        f"np.testing.assert_allclose(scores, np.load({str(tmp_path / 'expected.npy')!r}), rtol=1e-5, atol=1e-6)\n"
        "assert 'sentence_transformers' not in sys.modules\n"
        "assert model.report.best_epoch == 5\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_explanation_methods_agree_in_shape_and_occlusion_is_exact() -> None:
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 10}).fit(data)
    history = model.history.row(int(data.users.index(["shoe-0"])[0]))
    assert len(history) == 6
    items = np.array([3, 12])
    for method in ("mask", "occlusion", "shapley", "gradient", "attention"):
        weights = model.explain(history, items, method)
        assert weights.shape == (2, len(history)) and np.isfinite(weights).all()
    occlusion = model.explain(history, items, "occlusion")
    full = model.score_histories(Histories.from_lists([history]))[0, items]
    for j in range(len(history)):
        without = model.score_histories(Histories.from_lists([np.delete(history, j)]))[0, items]
        np.testing.assert_allclose(occlusion[:, j], full - without, rtol=1e-4, atol=1e-5)
    attention = model.explain(history, items, "attention")
    assert attention[0].sum() == pytest.approx(1.0, abs=1e-5)  # rollout rows are distributions
    assert model.explain(np.array([], dtype=np.int64), items).shape == (2, 0)
    with pytest.raises(ConfigError, match="explains by occlusion, shapley, mask, gradient, attention, not 'magic'"):
        model.explain(history, items, "magic")


def _shapley_by_permutations(model: SASRec, history: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Reference: each history item's gain in the items' lead over the catalogue's mean score as it
    joins the history, averaged over every order of joining; a subset is scored as the ordered
    sequence of its items, the empty one as 0."""
    t = len(history)
    orders = list(itertools.permutations(range(t)))
    subsets = [history[sorted(order[:k])] for order in orders for k in range(1, t + 1)]
    every = model.score_histories(Histories.from_lists(subsets))  # (T! T, I)
    scores = (every[:, items] - every.mean(axis=1, keepdims=True)).reshape(len(orders), t, len(items))
    gains = np.diff(np.concatenate([np.zeros((len(orders), 1, len(items))), scores], axis=1), axis=1)
    out = np.zeros((len(items), t))
    for order, gain in zip(orders, gains, strict=True):
        out[:, list(order)] += gain.T
    return out / len(orders)


@pytest.mark.parametrize("config", [{}, {"output_parts": ["text"], "text_similarity": True}])
def test_shapley_weights_are_the_average_gain_over_every_order(config: dict[str, object]) -> None:
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 10, **config}).fit(data)
    history = model.history.row(int(data.users.index(["cook-2"])[0]))
    items = np.array([3, 12, 17])
    exact = model.explain(history, items, "shapley")  # 2^6 = 64 subsets <= 512: every one scored
    np.testing.assert_allclose(exact, _shapley_by_permutations(model, history, items), rtol=1e-4, atol=1e-5)
    scores = model.score_histories(Histories.from_lists([history, history[:1]]))  # (2, I)
    lead = scores[:, items] - scores.mean(axis=1, keepdims=True)  # (2, n)
    np.testing.assert_allclose(exact.sum(axis=1), lead[0], rtol=1e-4, atol=1e-5)  # the weights split the lead
    np.testing.assert_allclose(model.explain(history[:1], items, "shapley")[:, 0], lead[1], rtol=1e-4, atol=1e-5)

    for seed in range(5):  # 63 < 64 subsets: KernelSHAP on 31 drawn subsets and their complements
        model.config = model.config.model_copy(update={"shapley_coalitions": 63, "seed": seed})
        weights = model.explain(history, items, "shapley")
        np.testing.assert_allclose(weights.sum(axis=1), lead[0], rtol=1e-4, atol=1e-5)  # exact for every draw
        assert np.abs(weights - exact).max() > 1e-3  # drawn, not enumerated
    np.testing.assert_array_equal(weights, model.explain(history, items, "shapley"))  # seeded
    errors = [np.abs(_kernel_shapley(model, history, items, pairs) - exact).mean() for pairs in (30, 300, 3000)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.1 * np.abs(exact).mean(), errors


@pytest.mark.parametrize("config", [{}, {"output_parts": ["text"], "text_similarity": True}])
def test_masking_takes_one_item_out_where_it_stands(config: dict[str, object]) -> None:
    """References: the newest item masked equals the same network with that item's id and text
    vectors zeroed (it occurs once); an older item masked equals removing it (occlusion) once
    positions carry nothing (zero position embeddings, no recency-weighted text profile)."""
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 10, **config}).fit(data)
    history = model.history.row(int(data.users.index(["cook-2"])[0]))
    assert len(set(history.tolist())) == len(history) == 6
    items = np.array([3, 12, 17])
    weights = model.explain(history, items, "mask")
    np.testing.assert_array_equal(model.explain(history, items), model.explain(history, items, "occlusion"))
    rows = torch.from_numpy(history[None, :] + 1)  # (1, T) network rows, no padding needed
    targets = model.output_table()[torch.from_numpy(items + 1)]  # (n, D) the explained items, untouched
    newest = int(history[-1])
    table = model.item_table().clone()
    table[newest + 1] = 0.0
    unit = model.network.items.unit
    with torch.no_grad():
        full = model.network.last_hidden(rows, model.item_table()) @ targets.T  # (1, n)
        saved = None if unit is None else unit[newest + 1].clone()
        if unit is not None:
            unit[newest + 1] = 0.0
        zeroed = model.network.last_hidden(rows, table) @ targets.T
        if unit is not None:
            unit[newest + 1] = saved
    np.testing.assert_allclose(weights[:, -1], (full - zeroed)[0].numpy(), rtol=1e-4, atol=1e-5)
    if model.network.items.unit is None:
        with torch.no_grad():
            model.network.positions.weight.zero_()
        np.testing.assert_allclose(
            model.explain(history, items, "mask")[:, :-1],
            model.explain(history, items, "occlusion")[:, :-1],
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.fixture(scope="module")
def ml100k_sasrec(shared_data: Path) -> SASRec:
    """SASRec trained briefly on MovieLens-100K, once for the module."""
    from lmrec.data.ingest import load_dataset

    data, _ = load_dataset(shared_data / "ml-100k")
    config = {"max_len": 50, "dim": 32, "epochs": 4, "eval_every": 4, "loss": "sampled", "negatives": 256}
    return SASRec(config).fit(data)


@pytest.mark.data
@pytest.mark.parametrize(("method", "removed"), [("mask", 1), ("occlusion", 1), ("gradient", 1), ("shapley", 3)])
def test_removing_the_top_explaining_items_hurts_more_than_random_ones(
    ml100k_sasrec: SASRec, method: str, removed: int
) -> None:
    """On MovieLens-100K: for each user's top recommendation, dropping the history item the
    explanation ranks first lowers that item's score more, on average, than dropping a random one.
    Shapley values credit items that stand in for each other alike, so they are checked on what
    such items add together: the first three, removed at once, against three random ones."""
    model = ml100k_sasrec
    rng = np.random.default_rng(0)
    top_drops, random_drops = [], []
    for user in range(0, len(model.users), 8):
        history = model.history.row(user)[-50:]
        item = model.recommend(str(model.users.id(user)), k=1).index
        weights = model.explain(history, item, method)[0]
        top = np.argsort(-weights, kind="stable")[:removed]
        others = rng.choice(len(history), size=removed, replace=False)
        rows = Histories.from_lists([history, np.delete(history, top), np.delete(history, others)])
        base, without_top, without_others = model.score_histories(rows)[:, item[0]]
        top_drops.append(base - without_top)
        random_drops.append(base - without_others)
    assert np.mean(top_drops) > np.mean(random_drops)
    assert np.mean(np.array(top_drops) > np.array(random_drops)) > 0.6


def test_id_dropout_teaches_the_model_to_rank_a_new_item_by_its_text() -> None:
    """Without id dropout a never-seen item competes with warm items that have id vectors on top of
    their text; hiding ids in training makes text alone score on the same scale."""
    assert _new_shoe_mean_rank(id_dropout=0.5) < _new_shoe_mean_rank(id_dropout=0.0)


def test_items_without_training_data_are_never_negatives() -> None:
    """A new item is never a target in training; as a negative it would only teach the network to
    push its text down, which is all it will be scored by."""
    table = torch.eye(4)  # items 1..3; item 3 has no training data
    known = torch.tensor([True, True, False])
    hidden = torch.tensor([[0.0, 1.0, 0.0, 10.0]])  # would score the unknown item far above the target
    full = FullSoftmaxLoss(known)(hidden, torch.tensor([1]), table)
    assert float(full) == pytest.approx(float(torch.log(1 + torch.exp(torch.tensor(-1.0)))))  # items 1 and 2 only
    sampled = SampledSoftmaxLoss(200, torch.Generator().manual_seed(0), known)
    # the known items are 1 (the target) and 2 (score 0): log(1 + 1 / e); a draw of item 3 would add e^9
    assert float(sampled(hidden, torch.tensor([1]), table)) == pytest.approx(float(full))


def test_scoring_by_text_alone_puts_a_new_item_on_the_warm_items_footing() -> None:
    by_text = _new_shoe_mean_rank(output_parts=["text"])
    assert by_text < _new_shoe_mean_rank(output_parts="same")
    assert by_text < 5  # among the ten shoes, whose vectors are their text too


def test_a_dataset_with_no_sequence_to_learn_from_is_refused() -> None:
    data = two_tastes()
    firsts = data.interactions.drop_duplicates(Columns.UserIdx)  # one interaction per user: no next item
    with pytest.raises(DataError, match="field 'interactions': no user has two or more interactions"):
        create_model("sasrec", {"dim": 8, "epochs": 1}).fit(data.with_interactions(firsts))


def test_output_parts_must_be_among_the_item_parts() -> None:
    with pytest.raises(ConfigError, match="output_parts"):
        SASRec({**SMALL, "item_parts": ["id"], "output_parts": ["text"]}).fit(two_tastes())


def test_text_similarity_adds_gamma_times_the_content_cosine_to_every_score(tmp_path: Path) -> None:
    """score = hidden · output + γ · p · u: the last Dt entries of a user vector are γ times the
    recency-weighted (0.9 per step back) mean of the history's unit text vectors, an item's are its
    unit text vector, and a loaded model gives the same scores."""
    data = two_tastes()
    model = SASRec({**SMALL, "epochs": 5, "item_parts": ["id", "text"], "text_similarity": True}).fit(data)
    history = [0, 1, 12]
    users = model.user_vectors(Histories.from_lists([history]))  # (1, D + Dt)
    items = model.item_vectors()  # (I, D + Dt)
    unit = model.network.items.unit[1:].numpy()  # (I, Dt), unit rows
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(items[:, SMALL["dim"] :], unit, rtol=1e-6)
    gamma = float(model.network.log_gamma.detach().exp())
    weights = np.array([0.81, 0.9, 1.0])  # oldest to newest
    profile = (weights[:, None] * unit[history]).sum(axis=0) / weights.sum()
    np.testing.assert_allclose(users[0, SMALL["dim"] :], gamma * profile, rtol=1e-4, atol=1e-6)
    scores = model.score_histories(Histories.from_lists([history]))
    np.testing.assert_allclose(scores[0], users[0] @ items.T, rtol=1e-4, atol=1e-4)
    model.save(tmp_path / "sasrec")
    loaded = load_model(tmp_path / "sasrec")
    np.testing.assert_allclose(loaded.score_histories(Histories.from_lists([history])), scores, rtol=1e-5, atol=1e-5)


def test_text_similarity_ranks_a_never_seen_item_by_its_text() -> None:
    """Scored by id + text, a new shoe (no id vector) trails the warm shoes; the similarity term lifts
    it among them."""
    with_similarity = _new_shoe_mean_rank(text_similarity=True)
    assert with_similarity < _new_shoe_mean_rank(text_similarity=False)
    assert with_similarity < 5  # among the ten shoes the users like


def test_text_similarity_needs_the_text_part() -> None:
    with pytest.raises(ConfigError, match="text_similarity needs the text part"):
        SASRec({**SMALL, "item_parts": ["id"], "text_similarity": True}).fit(two_tastes())
