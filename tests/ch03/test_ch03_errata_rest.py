"""Chapter 3 errata pinned (catalogue ../shared/book/ch03.md §5: E6, E11 and E26)."""

import math

import torch
from torch import nn
from torch.utils.data import TensorDataset

from tensorprism.nn.init import INITIALIZERS
from tensorprism.train import Trainer
from tensorprism.train.callbacks import Callback


class _Record(Callback):
    def __init__(self):
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, outputs):
        self.losses.append(float(outputs["loss"].detach()))


class _SeenIds(nn.Module):
    """A linear regressor on column 1 that records the example ids (column 0) of each batch."""

    def __init__(self):
        super().__init__()
        self.lin, self.ids = nn.Linear(1, 1), []

    def forward(self, x):
        if self.training:
            self.ids.append(x[:, 0].long().tolist())
        return self.lin(x[:, 1:])


def _trainer(model, data, **kw):
    return Trainer(model, train_data=data, task="regression", progress=False, tensorboard=False, optimizer="sgd",
                   lr=0.01, batch_size=4, **kw)


def test_erratum_e6_the_epoch_loss_averages_every_batch_not_the_last_one_l4721():
    """E6 (book lines 4721–4724): the TensorBoard logging is mis-indented, so the accumulation sits
    outside the batch loop: ``running_loss`` holds only the last batch's loss, and at batch size 32
    nothing is logged. The Trainer adds every batch's loss and logs their mean once per epoch as
    ``train/loss``: it equals the mean of the recorded batch losses, not the last one."""
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(12, 2), 10 * torch.randn(12, 1))
    rec = _Record()
    t = _trainer(nn.Linear(2, 1), data, epochs=2, callbacks=[rec]).fit()
    assert len(rec.losses) == 6 and len(t.history["train/loss"]) == 2  # one value per epoch, every epoch
    for epoch, logged in enumerate(t.history["train/loss"]):
        batch = rec.losses[3 * epoch:3 * epoch + 3]
        assert math.isclose(logged, sum(batch) / 3, rel_tol=1e-5)
        assert not math.isclose(logged, batch[-1], rel_tol=1e-3)  # the book's running_loss


def test_erratum_e11_keras_dense_default_is_glorot_uniform_and_torch_linear_default_is_not_l3683():
    """E11 (book lines 3683–3685): the code claims Keras' "default initializer may lead to poor
    convergence" and sets glorot_uniform, but that *is* the Keras ``Dense`` default. The behaviour
    that matters for the PyTorch twins: ``nn.Linear``'s default is U(±1/√fan_in), not Keras'
    U(±√(6/(fan_in+fan_out))). The library's ``glorot_uniform`` is the Keras default; the two
    bounds differ."""
    torch.manual_seed(0)
    fan_in, fan_out = 300, 200
    w = torch.empty(fan_out, fan_in)
    INITIALIZERS["glorot_uniform"](w)
    keras_bound = math.sqrt(6 / (fan_in + fan_out))
    assert w.abs().max() <= keras_bound and w.abs().max() > 0.98 * keras_bound
    assert math.isclose(w.var().item(), 2 / (fan_in + fan_out), rel_tol=0.05)
    torch_default = nn.Linear(fan_in, fan_out).weight
    assert torch_default.abs().max() <= 1 / math.sqrt(fan_in) < 0.6 * keras_bound


def test_erratum_e26_the_training_batches_are_shuffled_every_epoch_l4900():
    """E26 (book lines 4900–4902): the regression mini-batch loop takes the batches in the same
    order every epoch (no shuffling). The Trainer reshuffles the training set each epoch by default
    (``shuffle=True``), every example is seen once per epoch, and ``shuffle=False`` is the book's
    fixed order."""
    data = TensorDataset(torch.stack([torch.arange(16.0), torch.randn(16)], 1), torch.randn(16, 1))
    shuffled = _SeenIds()
    _trainer(shuffled, data, epochs=2).fit()
    fixed = _SeenIds()
    _trainer(fixed, data, epochs=2, shuffle=False).fit()
    first, second = sum(shuffled.ids[:4], []), sum(shuffled.ids[4:], [])
    assert sorted(first) == sorted(second) == list(range(16))
    assert first != list(range(16)) and first != second
    assert sum(fixed.ids[:4], []) == sum(fixed.ids[4:], []) == list(range(16))
