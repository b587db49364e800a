"""Trainer overhead: `Trainer.fit` against a hand-written PyTorch loop, timed side by side.

Both train the same MLP from the same initial weights on the same data with the same batch size,
optimiser and shuffling, for one epoch per repeat; the repeats alternate which loop runs first.
Prints the median wall time and process CPU time of each and their ratios (target: Trainer /
plain <= 1.05). With one torch thread, CPU time is what the loop itself cost, unaffected by other
jobs on a shared machine; wall time is what a user waits.

    OMP_NUM_THREADS=1 python benchmarks/trainer_overhead.py [--batch-size 128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from tensorprism.train import Trainer


def plain_loop(model: nn.Module, data: TensorDataset, batch_size: int, lr: float, seed: int) -> None:
    """The loop people write by hand: shuffle, forward, cross-entropy, backward, step."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    model.train()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def trainer_loop(model: nn.Module, data: TensorDataset, batch_size: int, lr: float, seed: int) -> None:
    Trainer(model, "classification", train_data=data, epochs=1, batch_size=batch_size, lr=lr, seed=seed,
            optimizer="adamw", progress=False, device="cpu").fit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=12_000)
    ap.add_argument("--features", type=int, default=784)
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.samples, args.features, generator=g)
    y = torch.randint(0, 10, (args.samples,), generator=g)
    data = TensorDataset(x, y)
    dims = [args.features, *args.hidden]
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    torch.manual_seed(0)
    init = nn.Sequential(*layers, nn.Linear(dims[-1], 10))

    runs = {"plain": plain_loop, "trainer": trainer_loop}
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}  # process CPU time: robust to other jobs
    for fn in runs.values():  # warm-up (imports, allocator, first-call costs) not timed
        fn(copy.deepcopy(init), data, args.batch_size, 1e-3, 0)
    for r in range(args.repeats):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for name in order:
            model = copy.deepcopy(init)
            t0, c0 = time.perf_counter(), time.process_time()
            runs[name](model, data, args.batch_size, 1e-3, r)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    steps = -(-args.samples // args.batch_size)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"MLP {'-'.join(map(str, dims))}-10, {args.samples} samples, batch {args.batch_size} "
          f"({steps} steps/epoch), AdamW, torch threads {torch.get_num_threads()}, {args.repeats} interleaved repeats")
    for k, v in times.items():
        print(f"  {k:8s} median {med[k]:.3f} s  ({med[k] / steps * 1e3:.2f} ms/step)  all: "
              + " ".join(f"{t:.3f}" for t in v))
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"  wall-time ratio trainer/plain: median {med['trainer'] / med['plain']:.3f}, "
          f"min {min(times['trainer']) / min(times['plain']):.3f}")
    print(f"  CPU-time  ratio trainer/plain: median {cmed['trainer'] / cmed['plain']:.3f}, "
          f"min {min(cpu['trainer']) / min(cpu['plain']):.3f}  (CPU time {cmed['plain']:.3f} s vs {cmed['trainer']:.3f} s)")


if __name__ == "__main__":
    main()
