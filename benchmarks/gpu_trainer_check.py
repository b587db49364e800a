"""Device check of the Trainer (meant for a CUDA machine; also runs, smaller, on a CPU):
precision choice, fp16 loss scaling, exact resume on the device, and the overhead against a plain
loop with host-side batches.

    python benchmarks/gpu_trainer_check.py            # on a GPU
    python benchmarks/gpu_trainer_check.py --small    # quick run of the same code on a CPU
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from tensorprism.train import Callback, Trainer
from tensorprism.train.trainer import resolve_device


def data(n=20_000, d=784, seed=0):
    """Ten Gaussian classes with fixed centres; ``seed`` draws the samples."""
    centres = torch.randn(10, d, generator=torch.Generator().manual_seed(1234)) * 0.1
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    return TensorDataset(centres[y] + torch.randn(n, d, generator=g), y)


def mlp(d=784, h=1024):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(0.1), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10))


class Stop(Exception):
    pass


class StopAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Stop


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="2,000 samples, hidden 64 (CPU smoke run)")
    args = ap.parse_args()
    n, h = (2000, 64) if args.small else (20_000, 1024)
    dev = resolve_device("auto")
    ds, val = data(n), data(n // 10, seed=1)

    def mlp_():
        return mlp(h=h)

    for precision in ("auto", "16", "32") if dev.type == "cuda" else ("auto", "32"):
        t0 = time.perf_counter()
        t = Trainer(mlp_(), train_data=ds, val_data=val, epochs=2, batch_size=256, lr=1e-3,
                    precision=precision, progress=False).fit()
        sync(dev)
        print(f"precision={precision} -> {t.precision} on {t.device}: val acc {t.final_metrics['val/acc']:.4f} "
              f"scaler={'yes' if t.scaler else 'no'} {time.perf_counter() - t0:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        per_epoch = -(-n // 256)  # checkpoint mid-epoch 2, stop a few steps later
        every, stop = per_epoch + per_epoch // 2, per_epoch + per_epoch // 2 + 3
        kw = dict(train_data=ds, epochs=2, batch_size=256, lr=1e-3, precision="32", checkpoint_every_steps=every,
                  progress=False, plots=False, tensorboard=False, deterministic=True)
        ref = Trainer(mlp_(), out_dir=a, **kw).fit()
        try:
            Trainer(mlp_(), out_dir=b, callbacks=[StopAt(stop)], **kw).fit()
        except Stop:
            pass
        res = Trainer(mlp_(), out_dir=b, **kw).fit(resume_from=b)
        same = all(torch.equal(p, q) for p, q in zip(ref.model.state_dict().values(),
                                                      res.model.state_dict().values(), strict=True))
        print(f"resume on {dev.type} from step {every} (interrupted at {stop} of {2 * per_epoch}): "
              f"bitwise identical = {same}", flush=True)

    def plain(model):
        model.to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for x, y in DataLoader(ds, batch_size=256, shuffle=True, pin_memory=dev.type == "cuda"):
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(dev)

    def trainer(model):
        Trainer(model, train_data=ds, epochs=1, batch_size=256, lr=1e-3, precision="32", progress=False).fit()
        sync(dev)

    init = mlp_()
    times = {"plain": [], "trainer": []}
    for fn in (plain, trainer):
        fn(copy.deepcopy(init))
    for r in range(5):
        for name, fn in ((("plain", plain), ("trainer", trainer)) if r % 2 == 0 else (("trainer", trainer), ("plain", plain))):
            t0 = time.perf_counter()
            fn(copy.deepcopy(init))
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{dev.type} fp32 overhead, MLP 784-{h}-{h}-10, {n} samples, batch 256: plain {med['plain']:.3f} s, "
          f"trainer {med['trainer']:.3f} s, ratio {med['trainer'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
