"""SSL runs are evaluable: ``ssl-net`` is a registered model, a run's checkpoint rebuilds it with its
task, and evaluation reports the leave-one-out weighted-kNN accuracy of the encoder's features;
and a time-budgeted run anneals its rate over the budget (BudgetCosineLR)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.metrics.knn import LeaveOneOutKNNAccuracy, leave_one_out_knn_predict
from tensorprism.models import create_model
from tensorprism.models.ssl import SSLNet
from tensorprism.train import Trainer
from tensorprism.train.budget_schedule import BudgetCosineLR
from tensorprism.train.callbacks import Callback
from tensorprism.train.run import Predictor, load_run, run_task

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


@pytest.fixture(scope="module")
def digits16():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return torch.nn.functional.interpolate(x[:96], size=16, mode="bilinear", align_corners=False), torch.tensor(d.target[:96])


def _loop_knn(f, y, k, t):
    """The definition, one sample at a time: its k most similar *other* samples vote exp(s/T)."""
    f = torch.nn.functional.normalize(f, dim=1)
    out = []
    for i in range(len(f)):
        s = f @ f[i]
        s[i] = -math.inf
        top, idx = s.topk(k)
        votes = torch.zeros(int(y.max()) + 1)
        for w, j in zip(top, idx, strict=True):
            votes[y[j]] += math.exp(float(w) / t)
        out.append(int(votes.argmax()))
    return torch.tensor(out)


def test_leave_one_out_knn_equals_the_loop_and_excludes_itself():
    g = torch.Generator().manual_seed(0)
    f, y = torch.randn(50, 6, generator=g), torch.randint(0, 3, (50,), generator=g)
    pred = leave_one_out_knn_predict(f, y, k=7, temperature=0.5, chunk=16)
    assert torch.equal(pred, _loop_knn(f, y, 7, 0.5))
    # with random labels and k = 1, a sample counted as its own neighbour would score 100 %
    assert float((leave_one_out_knn_predict(f, y, k=1) == y).float().mean()) < 0.7
    m = LeaveOneOutKNNAccuracy(k=7, temperature=0.5)
    m.update(f[:20], y[:20])
    m.update(f[20:], y[20:])
    assert float(m.compute()) == pytest.approx(float((pred == y).float().mean()))
    with pytest.raises(ShapeError):
        leave_one_out_knn_predict(f[:1], y[:1])
    with pytest.raises(ConfigError):
        leave_one_out_knn_predict(f, y, temperature=0.0)


def test_ssl_net_is_registered_and_builds_each_method():
    net = create_model("ssl-net", encoder="resnet20-cifar", encoder_config={"in_chans": 1, "layers": [1, 1, 1]},
                       method="moco", proj_dim=8, proj_hidden=16, queue_size=24)
    assert isinstance(net, SSLNet) and net.queue.shape == (24, 8) and net.target_encoder is not None
    assert net.prism_spec["name"] == "ssl-net" and net.prism_spec["config"]["method"] == "moco"
    byol = create_model("ssl-net", encoder_config={"in_chans": 1, "layers": [1, 1, 1]}, method="byol", proj_dim=8,
                        proj_hidden=16)
    assert byol.predictor is not None and byol.queue is None
    rot = create_model("ssl-net", encoder_config={"in_chans": 1, "layers": [1, 1, 1]}, method="rotation")
    assert rot.head.out_features == 4
    with pytest.raises(ConfigError):
        create_model("ssl-net", method="nope")


def test_an_ssl_run_is_rebuilt_from_its_checkpoint_and_evaluated_with_knn(tmp_path, digits16):
    x, y = digits16
    torch.manual_seed(0)
    net = create_model("ssl-net", encoder_config={"in_chans": 1, "layers": [1, 1, 1]}, method="moco", proj_dim=8,
                       proj_hidden=16, queue_size=32)
    t = Trainer(net, "moco", train_data=TensorDataset(x[:32], y[:32]), epochs=1, batch_size=8, lr=1e-3,
                optimizer="adam", out_dir=str(tmp_path), run_info={"task": {"name": "moco", "config": {}}}, **QUIET)
    t.fit()
    cfg, model, _ = load_run(tmp_path)
    assert isinstance(model, SSLNet)
    for k, v in net.state_dict().items():  # queue, pointer and EMA target included
        assert torch.equal(model.state_dict()[k], v), k
    metrics = Predictor(model, run_task(cfg, tmp_path), cfg["run_info"], device="cpu").trainer.evaluate(
        TensorDataset(x[32:96], y[32:96]), prefix="test")
    assert math.isfinite(metrics["test/loss"]) and 0.0 <= metrics["test/knn_acc"] <= 1.0


@pytest.mark.slow
@pytest.mark.data
def test_prism_eval_reads_a_ch09_ssl_run(tmp_path, capsys):
    """The command line on a recipe run directory (the whole MNIST test split: slow on 2 cores)."""
    from tensorprism.cli import main
    from tensorprism.recipes import run_recipe
    from tensorprism.testing import require_path

    require_path("mnist")
    out = tmp_path / "run"
    run_recipe("ch09-ssl", method="simclr", dataset="mnist", encoder="resnet20-cifar", encoder_kwargs={"layers": (1, 1, 1)},
               epochs=1, batch_size=16, max_train_samples=32, eval_train_samples=32, eval_test_samples=16,
               probe_epochs=1, out_dir=str(out), **QUIET)
    capsys.readouterr()
    assert main(["eval", str(out / "pretrain"), "--device", "cpu", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= metrics["test/knn_acc"] <= 1.0 and math.isfinite(metrics["test/loss"])


class _Record(Callback):
    """The rate after BudgetCosineLR has set it (callbacks run in order)."""

    def __init__(self):
        self.lrs = []

    def on_train_batch_end(self, trainer, outputs):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def _budget_run(seconds, digits16):
    x, y = digits16
    torch.manual_seed(0)
    cb, rec = BudgetCosineLR(seconds), _Record()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10))
    Trainer(model, "classification", train_data=TensorDataset(x[:64], y[:64]), epochs=2, batch_size=8, lr=0.1,
            optimizer="sgd", callbacks=[cb, rec], **QUIET).fit()
    return rec.lrs, cb


def test_budget_cosine_anneals_over_the_budget_or_the_steps(digits16):
    lrs, cb = _budget_run(1e-9, digits16)  # the budget is spent at once: the rate is annealed to 0
    assert lrs[0] == pytest.approx(0.0, abs=1e-12) and cb.base == [[0.1]]
    lrs, _ = _budget_run(1e9, digits16)  # time never binds: the plain step cosine over 16 steps
    assert lrs == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * s / 16)) for s in range(1, 17)])
    with pytest.raises(ConfigError):
        BudgetCosineLR(0)
