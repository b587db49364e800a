"""Data-layer speed: dataset load times (cold / warm cache) and batched augmentation throughput,
tensorprism's ops beside kornia's equivalents with the same parameters, timed interleaved in one run.

    OMP_NUM_THREADS=1 python benchmarks/data_bench.py                 # CPU, 1 thread
    python benchmarks/data_bench.py --device cuda --skip-loading      # GPU augmentation only

Load times: "cold" = first load in a fresh process state (MNIST: read + decompress + sha256 of
the IDX files; CIFAR-10: verify the archive, decode its 50,000 training JPEGs into a new .npy cache), "warm" =
the same call again (MNIST: arrays kept in memory; CIFAR-10: the .npy cache on disk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from tensorprism.data import augment as A
from tensorprism.data import load_dataset
from tensorprism.data.transforms import CIFAR10_STATS, Normalize


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the second is the steadier."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def loading() -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    from tensorprism.data.datasets import mnist

    rows = []
    for name in ("mnist", "fashion-mnist"):
        mnist._load_arrays.cache_clear()
        cold = _timed(lambda n=name: load_dataset(n, split="train"))
        warm = _timed(lambda n=name: load_dataset(n, split="train"))
        rows.append((f"{name} train (55,000)", cold, warm))
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("TENSORPRISM_CACHE")
        os.environ["TENSORPRISM_CACHE"] = tmp
        try:
            cold = _timed(lambda: load_dataset("cifar10", split="train"))
            warm = _timed(lambda: load_dataset("cifar10", split="train"))
        finally:
            if old is None:
                del os.environ["TENSORPRISM_CACHE"]
            else:
                os.environ["TENSORPRISM_CACHE"] = old
    rows.append(("cifar10 train (45,000), JPEG archive", cold, warm))
    return rows


def pairs(size: int):
    import kornia.augmentation as K
    from kornia.augmentation.auto import RandAugment as KRandAugment

    mean, std = (torch.tensor(v) for v in CIFAR10_STATS)
    pad = size // 8
    return [
        (f"random crop {size}, pad {pad}", A.RandomCrop(padding=pad), K.RandomCrop((size, size), padding=pad), False),
        ("horizontal flip p=0.5", A.RandomHorizontalFlip(), K.RandomHorizontalFlip(), False),
        ("colour jitter .4/.4/.4/.1", A.ColorJitter(0.4, 0.4, 0.4, 0.1), K.ColorJitter(0.4, 0.4, 0.4, 0.1), False),
        ("rotation +-15 deg, bilinear", A.RandomRotation(15), K.RandomRotation(15.0), False),
        ("random erasing p=0.5", A.RandomErasing(p=0.5), K.RandomErasing(p=0.5), False),
        ("mixup", A.Mixup(1.0, 10), K.RandomMixUpV2(), True),
        ("cutmix", A.CutMix(1.0, 10), K.RandomCutMixV2(use_correct_lambda=True), True),
        ("RandAugment n=2 m=9", A.RandAugment(2, 9), KRandAugment(n=2, m=9), False),
        (
            "crop+flip+normalize pipeline",
            A.Compose([A.RandomCrop(padding=pad), A.RandomHorizontalFlip(), Normalize(CIFAR10_STATS[0], CIFAR10_STATS[1])]),
            K.AugmentationSequential(K.RandomCrop((size, size), padding=pad), K.RandomHorizontalFlip(), K.Normalize(mean, std)),
            False,
        ),
    ]


def throughput(device: str, batch: int, size: int, reps: int, iters: int) -> list[tuple[str, float, float]]:
    x = torch.rand(batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rows = []
    for name, ours, theirs, mixes in pairs(size):
        ours, theirs = ours.to(device), theirs.to(device)
        calls = {
            "ours": (lambda o=ours: o(x, y)) if mixes else (lambda o=ours: o(x)),
            "kornia": (lambda k=theirs: k(x, y)) if mixes else (lambda k=theirs: k(x)),
        }
        for fn in calls.values():  # warm-up (kernels, caches)
            fn()
            fn()
        times = {k: [] for k in calls}
        for _ in range(reps):  # interleaved, so both see the same machine load
            for key, fn in calls.items():
                sync()
                t = time.perf_counter()
                for _ in range(iters):
                    fn()
                sync()
                times[key].append(time.perf_counter() - t)
        per_s = {k: batch * iters / statistics.median(v) for k, v in times.items()}
        rows.append((name, per_s["ours"], per_s["kornia"]))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--skip-loading", action="store_true")
    p.add_argument("--skip-augment", action="store_true")
    args = p.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else ""))
    if not args.skip_loading:
        print("\n| dataset | cold load: wall (s) | cold: CPU (s) | warm load: wall (s) | warm: CPU (s) |")
        print("|---|---:|---:|---:|---:|")
        for name, cold, warm in loading():
            print(f"| {name} | {cold[0]:.2f} | {cold[1]:.2f} | {warm[0]:.3f} | {warm[1]:.3f} |")
    if args.skip_augment:
        return
    print(f"\nbatch {args.batch} x 3 x {args.size} x {args.size} float32, median of {args.reps} x {args.iters} calls")
    print("\n| op | tensorprism (img/s) | kornia (img/s) | ratio |\n|---|---:|---:|---:|")
    for name, ours, theirs in throughput(args.device, args.batch, args.size, args.reps, args.iters):
        print(f"| {name} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    main()
