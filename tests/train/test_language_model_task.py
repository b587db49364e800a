"""The one next-token task (``language-model``, also named ``causal-lm``): pair and token-only
batches, padding left out by ``ignore_index``, and its loss / perplexity / token-accuracy report."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset
from train_helpers import QUIET

from tensorprism.errors import ShapeError
from tensorprism.train import Trainer, create_task
from tensorprism.train.tasks import TASKS
from tensorprism.train.tasks.language_model import LanguageModelTask

V = 7


class TinyLM(nn.Module):
    """Embedding + linear: logits (N, T, V) for ids (N, T)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 8)
        self.out = nn.Linear(8, V)

    def forward(self, x):
        return self.out(self.emb(x))


class OracleLM(nn.Module):
    """Predicts ``(x + 1) mod V`` with near-certainty: the exact next token of counting sequences."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return 20.0 * F.one_hot((x + 1) % V, V).float() + self.dummy


def counting(n: int, t: int) -> torch.Tensor:
    """``(n, t)`` sequences ``s, s+1, s+2, ... (mod V)``."""
    return (torch.arange(n)[:, None] + torch.arange(t)[None, :]) % V


def test_causal_lm_is_another_name_of_the_one_language_model_task():
    assert TASKS.get("causal-lm").fn is TASKS.get("language-model").fn is LanguageModelTask
    assert isinstance(create_task("causal-lm"), LanguageModelTask)
    assert LanguageModelTask.name == "language-model"


def test_token_only_batches_are_shifted_inside_and_equal_the_pair_form():
    torch.manual_seed(0)
    model, task = TinyLM(), LanguageModelTask()
    tokens = torch.randint(0, V, (3, 9))
    pair = task.training_step(model, (tokens[:, :-1], tokens[:, 1:]))["loss"]
    for batch in (tokens, (tokens,), {"x": tokens}):
        torch.testing.assert_close(task.training_step(model, batch)["loss"], pair)


def test_padding_targets_are_left_out_of_loss_and_metrics():
    torch.manual_seed(0)
    model, task = TinyLM(), LanguageModelTask(ignore_index=0)
    x = torch.randint(1, V, (2, 6))
    y = torch.randint(1, V, (2, 6))
    y[:, 4:] = 0  # padding
    out = task.evaluation_step(model, (x, y))
    logits = model(x)
    want = F.cross_entropy(logits[:, :4].flatten(0, 1), y[:, :4].flatten())
    torch.testing.assert_close(out["loss"], want)
    metrics = task.metrics()
    task.update_metrics(metrics, out)
    acc = (logits[:, :4].argmax(-1) == y[:, :4]).float().mean()
    assert metrics["token_acc"].compute().item() == pytest.approx(acc.item())
    assert metrics["ppl"].compute().item() == pytest.approx(math.exp(want.item()), rel=1e-5)


def test_trainer_reports_loss_perplexity_and_token_accuracy_on_token_only_data():
    data = TensorDataset(counting(12, 8))
    trainer = Trainer(OracleLM(), "language-model", train_data=data, val_data=data, epochs=1,
                      batch_size=4, **QUIET)
    got = trainer.evaluate("val")
    assert got["val/token_acc"] == 1.0
    assert got["val/ppl"] == pytest.approx(math.exp(got["val/loss"]), rel=1e-4)
    assert got["val/loss"] < 1e-6


def test_too_short_token_only_batch_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"\(N, T\+1\)"):
        LanguageModelTask().training_step(TinyLM(), torch.tensor([[3]]))


def test_logits_of_the_wrong_shape_are_a_shape_error():
    with pytest.raises(ShapeError, match=r"logits \(N, T, V\)"):
        LanguageModelTask().training_step(lambda x: x.float(), (torch.zeros(2, 3, dtype=torch.long),) * 2)


def test_weight_decay_skips_biases_and_gains_by_default():
    model, built = TinyLM(), []

    def build(params):
        built.append(params)
        return torch.optim.AdamW(params, weight_decay=0.1)

    opt = LanguageModelTask().configure_optimizers(model, build)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[1]["params"] == [model.out.bias]
    assert len(LanguageModelTask(decay_matrices_only=False).configure_optimizers(model, build).param_groups) == 1
