"""Manual optimisation (GAN alternating updates): every backward starts from zero gradients, toggling
keeps a loss to its own parameters, and two gloo processes give the weights of one process."""

import contextlib
import json
import multiprocessing as mp
import os
import socket
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401  (imported once here, not in each forked worker)
import torch.nn as nn
import torch.nn.functional as F
import torchmetrics  # noqa: F401
from safetensors.torch import load_file, save_file
from torch.utils.data import TensorDataset

from tensorprism.train import Trainer
from tensorprism.train.tasks import Task


class TinyGAN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.generator = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
        self.discriminator = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))


def gan_data(n: int = 32) -> TensorDataset:
    """(real sample, noise) pairs: the noise is data, so any split of a batch over processes sees
    the same noise as one process."""
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 2, generator=g) * 0.5 + 2, torch.randn(n, 2, generator=g))


class GANTask(Task):
    """The pattern of docs/training.md; ``toggle=False`` is the old pattern without toggling."""

    manual_optimization = True

    def __init__(self, toggle: bool = True):
        self.toggle = toggle
        self.d_grads_exact: list[bool] = []
        self.d_grads_after_g_backward: list[bool] = []

    def configure_optimizers(self, model, build):
        return [build(model.generator.parameters()), build(model.discriminator.parameters())]

    def _toggled(self, opt):
        return self.trainer.toggled(opt) if self.toggle else contextlib.nullcontext()

    def training_step(self, model, batch):
        real, z = batch
        net = self.trainer.model  # the plain module: sub-modules are addressed directly
        opt_g, opt_d = self.trainer.optimizers
        fake = net.generator(z)
        d_params = list(net.discriminator.parameters())
        with self._toggled(opt_d):
            d_real, d_fake = net.discriminator(real), net.discriminator(fake.detach())
            d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            own = torch.autograd.grad(d_loss, d_params, retain_graph=True)  # d_loss's gradient alone
            self.trainer.backward(d_loss)
            # equal bit for bit only if the gradients were exactly zero just before this backward
            self.d_grads_exact.append(all(torch.equal(p.grad, g) for p, g in zip(d_params, own, strict=True)))
        self.trainer.optimizer_step(opt_d)
        with self._toggled(opt_g):
            d_on_fake = net.discriminator(fake)
            g_loss = F.binary_cross_entropy_with_logits(d_on_fake, torch.ones_like(d_on_fake))
            self.trainer.backward(g_loss)
            self.d_grads_after_g_backward.append(any(p.grad is not None for p in d_params))
        self.trainer.optimizer_step(opt_g)
        return {"loss": (d_loss + g_loss).detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


def fit_gan(task: GANTask, batch_size: int = 8, **kw) -> Trainer:
    return Trainer(TinyGAN(), task, train_data=gan_data(), epochs=2, batch_size=batch_size, lr=0.05,
                   optimizer="sgd", shuffle=False, seed=0, progress=False, device="cpu", **kw).fit()


def test_discriminator_gradients_are_zero_before_its_own_backward_even_without_toggling():
    task = GANTask(toggle=False)
    fit_gan(task)
    assert len(task.d_grads_exact) == 8 and all(task.d_grads_exact)
    assert all(task.d_grads_after_g_backward)  # without toggling the generator loss does reach D ...


def test_toggling_keeps_the_generator_loss_out_of_the_discriminator():
    task = GANTask(toggle=True)
    t = fit_gan(task)
    assert all(task.d_grads_exact) and not any(task.d_grads_after_g_backward)
    assert all(p.requires_grad for p in t.model.parameters())  # untoggled after each use


def test_both_patterns_train_the_same_weights():
    """... but since every backward starts from zero, that leak never reaches D's update."""
    a, b = fit_gan(GANTask(toggle=False)), fit_gan(GANTask(toggle=True))
    for (key, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7, msg=key)


def test_several_backward_calls_before_one_step_accumulate():
    class TwoHalves(Task):
        manual_optimization = True

        def training_step(self, model, batch):
            x, y = batch
            opt = self.trainer.optimizers[0]
            first = F.cross_entropy(model(x[:4]), y[:4])
            second = F.cross_entropy(model(x[4:]), y[4:])
            self.expected = torch.autograd.grad(first + second, list(model.parameters()), retain_graph=True)
            self.trainer.backward(first)
            self.trainer.backward(second)
            self.grads = [p.grad.clone() for p in model.parameters()]
            self.trainer.optimizer_step(opt)
            return {"loss": (first + second).detach()}

    x, y = torch.randn(8, 3), torch.tensor([0, 1] * 4)
    task = TwoHalves()
    Trainer(nn.Linear(3, 2), task, train_data=TensorDataset(x, y), epochs=1, batch_size=8,
            progress=False).fit()
    for got, want in zip(task.grads, task.expected, strict=True):
        torch.testing.assert_close(got, want)


# ------------------------------------------------------------------ two gloo processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        t = fit_gan(GANTask(toggle=True), batch_size=4)
        save_file({k: v.contiguous() for k, v in t.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
        Path(f"{out}/rank{rank}.json").write_text(json.dumps({"world": t.world_size, "steps": t.global_step}))
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def test_two_gloo_processes_give_the_weights_of_one_process(tmp_path):
    """Each process takes 4 of the 8 examples of a global batch and calls ``net.generator`` directly;
    the averaged gradients must reproduce the single-process run."""
    ctx, port = mp.get_context("fork"), _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(tmp_path))) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    single = fit_gan(GANTask(toggle=True), batch_size=8)
    for r in (0, 1):
        info = json.loads((tmp_path / f"rank{r}.json").read_text())
        assert info == {"world": 2, "steps": single.global_step}
        ddp = load_file(str(tmp_path / f"rank{r}.safetensors"))
        for key, value in single.model.state_dict().items():
            torch.testing.assert_close(ddp[key], value, rtol=1e-5, atol=1e-6, msg=key)
