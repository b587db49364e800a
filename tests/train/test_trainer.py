import warnings

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import QUIET, make_blobs, make_mlp

from tensorprism.errors import ConfigError, NonFiniteError
from tensorprism.train import Callback, EarlyStopping, Trainer
from tensorprism.train.tasks import Task, split_batch
from tensorprism.train.trainer import resolve_precision


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_gradient_accumulation_equals_the_larger_batch(blobs):
    big = Trainer(make_mlp(), train_data=blobs, epochs=2, batch_size=16, optimizer="sgd", lr=0.1, **QUIET).fit()
    acc = Trainer(make_mlp(), train_data=blobs, epochs=2, batch_size=8, accumulate=2, optimizer="sgd",
                  lr=0.1, **QUIET).fit()
    assert big.global_step == acc.global_step == 12
    torch.testing.assert_close(weights(acc.model), weights(big.model), rtol=1e-5, atol=1e-6)


def _trainer_with_grads(**kw):
    model = nn.Linear(3, 2)
    t = Trainer(model, train_data=make_blobs(n=8, features=3, classes=2), **QUIET, **kw)
    t.setup()
    model.weight.grad = torch.full_like(model.weight, 3.0)  # norm sqrt(6*9)
    model.bias.grad = torch.tensor([4.0, 0.0])
    return t, model


def test_clip_by_global_norm():
    t, model = _trainer_with_grads(grad_clip_norm=1.0)
    t.clip_gradients(t.optimizers[0])
    total = torch.cat([model.weight.grad.flatten(), model.bias.grad]).norm()
    assert total == pytest.approx(1.0, rel=1e-5)


def test_erratum_E23_clip_by_norm_per_tensor_or_global():
    """Book L4022 reads as a global norm, its Keras listing (L4034) clips each tensor: both exist."""
    t, model = _trainer_with_grads(grad_clip_norm=1.0, grad_clip_per_tensor=True)
    t.clip_gradients(t.optimizers[0])
    assert model.weight.grad.norm() == pytest.approx(1.0, rel=1e-5)
    assert model.bias.grad.norm() == pytest.approx(1.0, rel=1e-5)


def test_clip_by_value():
    t, model = _trainer_with_grads(grad_clip_value=0.5)
    t.clip_gradients(t.optimizers[0])
    assert model.weight.grad.max() == 0.5 and model.bias.grad.tolist() == [0.5, 0.0]


@pytest.mark.parametrize("every", [1, 4], ids=["every-batch", "deferred-sync"])
def test_nan_loss_stops_with_a_clear_message(blobs, every):
    x, y = blobs.tensors
    x = x.clone()
    x[20] = float("nan")
    with pytest.raises(NonFiniteError, match=r"loss became nan at epoch 1, batch 2 .*lower the learning rate"):
        Trainer(make_mlp(), train_data=TensorDataset(x, y), batch_size=16, shuffle=False,
                check_finite_every=every, **QUIET).fit()


def test_early_stopping_stops_when_the_metric_stalls(blobs):
    t = Trainer(make_mlp(), train_data=blobs, val_data=blobs, epochs=50, lr=1e-7,
                callbacks=[EarlyStopping(patience=2, min_delta=0.01)], **QUIET).fit()
    assert t.epoch == 3  # best at epoch 1, then two epochs without improvement


def test_precision_auto_never_picks_bf16_on_cpu():
    assert resolve_precision("auto", torch.device("cpu")) == "32"
    with pytest.warns(UserWarning, match="slower than fp32"):
        resolve_precision("bf16", torch.device("cpu"))


def test_unknown_optimizer_and_bad_settings_are_config_errors(blobs):
    with pytest.raises(ConfigError, match="did you mean 'sgd'"):
        Trainer(make_mlp(), train_data=blobs, optimizer="sdg")
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        Trainer(make_mlp(), train_data=blobs, batchsize=3)


def test_user_dataloader_and_max_steps(blobs):
    loader = DataLoader(blobs, batch_size=10, shuffle=False)
    t = Trainer(make_mlp(), train_data=loader, epochs=5, max_steps=4, **QUIET).fit()
    assert t.global_step == 4 and t.epoch == 0


def test_compile_option_trains_the_same_model(blobs):
    ref = Trainer(make_mlp(), train_data=blobs, epochs=1, batch_size=32, optimizer="sgd", **QUIET).fit()
    comp = Trainer(make_mlp(), train_data=blobs, epochs=1, batch_size=32, optimizer="sgd",
                   compile="aot_eager", **QUIET).fit()
    torch.testing.assert_close(weights(comp.model), weights(ref.model), rtol=1e-5, atol=1e-6)


class TwoPlayerTask(Task):
    """A GAN-shaped task: two optimisers stepped by the task itself, plus an EMA copy."""

    manual_optimization = True

    def __init__(self):
        self.ema_updates = 0

    def configure_optimizers(self, model, build):
        return [build(model[0].parameters()), build(model[1].parameters())]

    def training_step(self, model, batch):
        x, _ = split_batch(batch)
        opt_a, opt_b = self.trainer.optimizers
        loss_a = model[0](x).pow(2).mean()
        self.trainer.backward(loss_a)
        self.trainer.optimizer_step(opt_a)
        loss_b = (model[1](x) - 1).pow(2).mean()
        self.trainer.backward(loss_b)
        self.trainer.optimizer_step(opt_b)
        return {"loss": (loss_a + loss_b).detach()}

    def on_after_optimizer_step(self, model, step):
        self.ema_updates += 1


def test_manual_optimisation_with_two_optimisers_and_after_step_hook(blobs):
    model = nn.ModuleList([nn.Linear(6, 1), nn.Linear(6, 1)])
    task = TwoPlayerTask()
    x = blobs.tensors[0]

    def losses():
        with torch.no_grad():
            return model[0](x).pow(2).mean(), (model[1](x) - 1).pow(2).mean()

    start = losses()
    t = Trainer(model, task, train_data=blobs, epochs=20, batch_size=32, lr=0.01, optimizer="sgd",
                grad_clip_norm=10.0, **QUIET).fit()
    end = losses()
    assert end[0] < 0.2 * start[0] and end[1] < 0.2 * start[1]
    assert task.ema_updates == t.global_step == 60


def test_callback_hooks_run_in_order(blobs):
    seen = []

    class Spy(Callback):
        def on_fit_start(self, trainer):
            seen.append("fit_start")

        def on_train_epoch_start(self, trainer):
            seen.append("epoch_start")

        def on_epoch_end(self, trainer, logs):
            seen.append(("epoch_end", trainer.epoch, sorted(logs)))

        def on_fit_end(self, trainer):
            seen.append("fit_end")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(make_mlp(), train_data=blobs, val_data=blobs, epochs=1, callbacks=[Spy()], **QUIET).fit()
    assert seen == ["fit_start", "epoch_start",
                    ("epoch_end", 1, ["train/loss", "val/acc", "val/f1", "val/loss"]), "fit_end"]


def test_progress_bar_shows_throughput_and_epoch_summary(blobs, capsys):
    from tensorprism.train import ProgressBar

    Trainer(make_mlp(), train_data=blobs, val_data=blobs, epochs=1, batch_size=8,
            callbacks=[ProgressBar(refresh_every=2, mininterval=0)], **QUIET).fit()
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "samples_s=" in err and "batch" in err
    assert "val/acc" in err.splitlines()[-1]


def test_time_limit_stops_and_its_spent_time_survives_a_checkpoint(tmp_path):
    """TimeLimit is a real callback: it checkpoints with a run directory and resumes its budget."""
    from tensorprism.train import TimeLimit

    limit = TimeLimit(1e-9)
    trainer = Trainer(make_mlp(), "classification", train_data=make_blobs(), epochs=5, batch_size=16,
                      out_dir=str(tmp_path), callbacks=[limit], **QUIET)
    trainer.fit()
    assert trainer.global_step == 1  # stopped after the first batch of five epochs
    trainer.save_checkpoint("last")  # collects every callback's state_dict
    assert (tmp_path / "checkpoints" / "last.safetensors").exists()
    resumed = TimeLimit(10.0)
    resumed.load_state_dict(limit.state_dict())
    assert resumed.spent == limit.spent > 0
