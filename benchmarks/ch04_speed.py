"""CPU speed of Chapter 4 convolutions, measured side by side in one process.

1. Reference conv (im2col + einsum, ``functional.conv.convnd_reference``) vs the fused kernel
   (``F.conv2d``), forward + backward, on ResNet-like layer shapes.
2. ResNet-18 / ResNet-50 training throughput (images/s; SGD step on random data): contiguous (NCHW)
   vs channels-last memory format, eager vs ``torch.compile`` (inductor).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/ch04_speed.py --size 64 --batch 4

Times are medians over ``--reps`` calls, in CPU seconds of this process (``time.process_time``) by
default, so that the numbers stay meaningful on a machine shared with other jobs (wall-clock time there
measures the queue); on an idle machine ``--clock wall --threads 2`` gives plain images per second::

    .venv/bin/python benchmarks/ch04_speed.py --size 128 --batch 16 --reps 5 --threads 2 --clock wall
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from tensorprism.functional.conv import convnd_reference
from tensorprism.models import create_model

CLOCK = time.process_time  # --clock wall switches to time.perf_counter (only meaningful on an idle machine)


def timeit(fn, warmup: int = 1, reps: int = 3) -> float:
    """Median seconds per call over ``reps`` calls after ``warmup`` (CPU seconds of this process by default,
    robust to other jobs sharing the cores; wall seconds with ``--clock wall``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return statistics.median(times)


def conv_ratio(shapes, reps: int) -> list[dict]:
    rows = []
    for n, c, hw, f, k, s in shapes:
        x = torch.randn(n, c, hw, hw, requires_grad=True)
        w = torch.randn(f, c, k, k, requires_grad=True)

        def run(fn, x=x, w=w, s=s, p=k // 2):
            def step():
                fn(x, w, None, s, p).sum().backward()
            return step

        t_ref = timeit(run(convnd_reference), reps=reps)
        t_fast = timeit(run(F.conv2d), reps=reps)
        rows.append({"shape": f"N{n} C{c} {hw}x{hw} -> F{f} k{k} s{s}", "reference_ms": 1e3 * t_ref,
                     "fused_ms": 1e3 * t_fast, "ratio": t_ref / t_fast})
    return rows


def train_throughput(name: str, size: int, batch: int, channels_last: bool, compiled: bool, reps: int) -> float:
    torch.manual_seed(0)
    model = create_model(name)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=fmt)
    y = torch.randint(0, 1000, (batch,))
    fwd = torch.compile(model) if compiled else model

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(fwd(x), y).backward()
        opt.step()

    t_compile = CLOCK()
    step()  # first call compiles when compiled
    t_compile = CLOCK() - t_compile
    return batch / timeit(step, warmup=1, reps=reps), t_compile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default="resnet18,resnet50")
    ap.add_argument("--compile-models", default="resnet18,resnet50")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    unit = "s" if args.clock == "wall" else "CPU-s"
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.clock}-clock medians of {args.reps} reps")
    print(f"\n| conv layer (fwd+bwd) | reference ms ({args.clock}) | fused ms ({args.clock}) | reference / fused |\n|---|---|---|---|")
    shapes = [(4, 64, 28, 64, 3, 1), (4, 128, 14, 128, 3, 1), (4, 256, 7, 256, 3, 1), (4, 64, 28, 128, 3, 2), (4, 3, 64, 64, 7, 2)]
    for r in conv_ratio(shapes, args.reps):
        print(f"| {r['shape']} | {r['reference_ms']:.1f} | {r['fused_ms']:.1f} | {r['ratio']:.2f}× |", flush=True)
    print(f"\n| model ({args.size}×{args.size}, batch {args.batch}, SGD step) | memory format | mode | images per {unit} | first step {unit} |\n|---|---|---|---|---|")
    for name in args.models.split(","):
        for compiled in (False, True):
            if compiled and name not in args.compile_models.split(","):
                continue
            for cl in (False, True):
                ips, first = train_throughput(name, args.size, args.batch, cl, compiled, args.reps)
                print(f"| {name} | {'channels-last' if cl else 'contiguous'} | {'compiled' if compiled else 'eager'} | {ips:.1f} | {first:.1f} |", flush=True)


if __name__ == "__main__":
    main()
