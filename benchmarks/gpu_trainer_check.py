"""GPU check of the Trainer (run where CUDA exists): precision choice, fp16 loss scaling, exact
resume on the GPU, and the overhead against a plain loop with host-side batches.

    python benchmarks/gpu_trainer_check.py
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


def data(n=20_000, d=784, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randn(10, d, generator=g)[y] + torch.randn(n, d, generator=g)
    return TensorDataset(x, y)


def mlp(d=784, h=1024):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(0.1), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10))


class Stop(Exception):
    pass


class StopAt(Callback):
    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == 30:
            raise Stop


def main() -> None:
    ds, val = data(), data(2000, seed=1)
    for precision in ("auto", "16", "32"):
        t0 = time.perf_counter()
        t = Trainer(mlp(), train_data=ds, val_data=val, epochs=2, batch_size=256, lr=1e-3,
                    precision=precision, progress=False).fit()
        torch.cuda.synchronize()
        print(f"precision={precision} -> {t.precision} on {t.device}: val acc {t.final_metrics['val/acc']:.4f} "
              f"scaler={'yes' if t.scaler else 'no'} {time.perf_counter() - t0:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        kw = dict(train_data=ds, epochs=2, batch_size=256, lr=1e-3, precision="32", checkpoint_every_steps=20,
                  progress=False, plots=False, tensorboard=False, deterministic=True)
        ref = Trainer(mlp(), out_dir=a, **kw).fit()
        try:
            Trainer(mlp(), out_dir=b, callbacks=[StopAt()], **kw).fit()
        except Stop:
            pass
        res = Trainer(mlp(), out_dir=b, **kw).fit(resume_from=b)
        same = all(torch.equal(p, q) for p, q in zip(ref.model.state_dict().values(),
                                                      res.model.state_dict().values(), strict=True))
        print(f"resume on GPU from step 20 (interrupted at 30): bitwise identical = {same}", flush=True)

    dev = torch.device("cuda")

    def plain(model):
        model.to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for x, y in DataLoader(ds, batch_size=256, shuffle=True, pin_memory=True):
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        torch.cuda.synchronize()

    def trainer(model):
        Trainer(model, train_data=ds, epochs=1, batch_size=256, lr=1e-3, precision="32", progress=False).fit()
        torch.cuda.synchronize()

    init = mlp()
    times = {"plain": [], "trainer": []}
    for fn in (plain, trainer):
        fn(copy.deepcopy(init))
    for r in range(5):
        for name, fn in ((("plain", plain), ("trainer", trainer)) if r % 2 == 0 else (("trainer", trainer), ("plain", plain))):
            t0 = time.perf_counter()
            fn(copy.deepcopy(init))
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"GPU fp32 overhead, MLP 784-1024-1024-10, 20k samples, batch 256: plain {med['plain']:.3f} s, "
          f"trainer {med['trainer']:.3f} s, ratio {med['trainer'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
