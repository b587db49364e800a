"""CP-ALS and Tucker-HOOI vs TensorLy over tensor size (10^3 ... 10^7 entries), 3-way and 4-way.

Each point fits the same noisy low-rank tensor (float32, rank ``min(10, n // 2)`` for mode size
``n``, 10 % Gaussian noise) with the same rank, SVD initialisation and stopping rule (CP: error
change < 1e-6, Tucker: < 1e-4, at most 100 sweeps) in tensorprism and in TensorLy (numpy backend by
default). The two libraries alternate inside every repeat (ours, theirs, ours, theirs, ...), so a
change of machine load hits both; times are process CPU seconds (one thread, so they exclude the
time other jobs on a shared machine take the core away; ``--clock wall`` for wall time). The
reported ratio is the median over repeats of the per-repeat ratio tensorprism / TensorLy (< 1:
tensorprism faster), next to both relative errors.

    OMP_NUM_THREADS=1 python benchmarks/decomposition_sizes.py --out benchmarks/results/decomposition_sizes
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from tensorprism.tensor import cp_als, relative_error, tucker_hooi

# mode sizes giving about 10^3, 10^4, ..., 10^7 entries
SIZES = {3: [10, 22, 46, 100, 215], 4: [6, 10, 18, 32, 56]}


def noisy_low_rank(order: int, n: int, rank: int, noise: float = 0.1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    letters = "ijkl"[:order]
    factors = [torch.randn(n, rank, generator=g) for _ in range(order)]
    x = torch.einsum(",".join(f"{c}r" for c in letters) + "->" + letters, *factors)
    return x + noise * x.std() * torch.randn(x.shape, generator=g)


def fits(tl, x, r):
    """(name, ours, theirs, theirs -> full tensor) for CP-ALS and Tucker-HOOI with equal settings."""
    from tensorly.decomposition import parafac, tucker

    xt = tl.tensor(x.numpy()) if tl.get_backend() == "numpy" else x
    return [
        ("CP-ALS", lambda: cp_als(x, r, n_iter_max=100, tol=1e-6),
         lambda: parafac(xt, r, n_iter_max=100, tol=1e-6, init="svd"), tl.cp_to_tensor),
        ("Tucker-HOOI", lambda: tucker_hooi(x, r, n_iter_max=100, tol=1e-4),
         lambda: tucker(xt, [r] * x.dim(), n_iter_max=100, tol=1e-4, init="svd"), tl.tucker_to_tensor),
    ]


def measure(ours, theirs, repeats: int, clock=time.process_time, warm_up: bool = True):
    if warm_up:  # allocator, BLAS, lazy imports (skipped for the largest sizes, where it is noise)
        ours(), theirs()
    t_ours, t_theirs, out_ours, out_theirs = [], [], None, None
    for _ in range(repeats):
        t0 = clock()
        out_ours = ours()
        t1 = clock()
        out_theirs = theirs()
        t2 = clock()
        t_ours.append(t1 - t0)
        t_theirs.append(t2 - t1)
    ratio = statistics.median(a / b for a, b in zip(t_ours, t_theirs, strict=True))
    return statistics.median(t_ours), statistics.median(t_theirs), ratio, out_ours, out_theirs


def plot(rows, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for (name, order, backend), style in zip(
        sorted({(r["algorithm"], r["order"], r["backend"]) for r in rows}), ["o-", "s-", "o--", "s--", "^-", "v-", "^--", "v--"],
        strict=False,
    ):
        pts = sorted((r["entries"], r["ratio"]) for r in rows
                     if (r["algorithm"], r["order"], r["backend"]) == (name, order, backend))
        ax.plot(*zip(*pts, strict=True), style, label=f"{name}, {order}-way ({backend})")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tensor entries")
    ax.set_ylabel("time tensorprism / TensorLy (median)")
    ax.set_title("Decomposition time ratio at equal error (< 1: tensorprism faster)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[3, 4])
    ap.add_argument("--min-entries", type=float, default=0)
    ap.add_argument("--max-entries", type=float, default=1.2e7)
    ap.add_argument("--repeats", type=int, default=9, help="repeats for the smallest sizes (fewer for large ones)")
    ap.add_argument("--backends", nargs="+", default=["numpy"], choices=["numpy", "pytorch"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="writes OUT.json (after every row) and OUT.png")
    ap.add_argument("--plot", type=Path, nargs="+", default=None,
                    help="only merge these JSON files of earlier runs into OUT.json / OUT.png")
    args = ap.parse_args()
    if args.plot:
        rows = [r for f in args.plot for r in json.loads(f.read_text())]
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
        plot(rows, args.out.with_suffix(".png"))
        return
    torch.set_num_threads(args.threads)
    import tensorly as tl

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"torch {torch.__version__}, tensorly {tl.__version__}, {torch.get_num_threads()} thread(s), "
          f"{args.clock} time, load average {os.getloadavg()[0]:.1f}")
    print("| algorithm | backend | tensor | entries | rank | tensorprism s | TensorLy s | ratio (median) | error tensorprism | error TensorLy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for backend in args.backends:
        tl.set_backend(backend)
        for order in args.orders:
            for n in SIZES[order]:
                entries = n ** order
                if not args.min_entries <= entries <= args.max_entries:
                    continue
                r = min(10, n // 2)
                x = noisy_low_rank(order, n, r)
                repeats = max(3, args.repeats if entries <= 1e5 else args.repeats // 3)
                for name, ours, theirs, to_full in fits(tl, x, r):
                    t_o, t_t, ratio, d_o, d_t = measure(ours, theirs, repeats, clock, warm_up=entries <= 2e6)
                    full = torch.as_tensor(tl.to_numpy(to_full(d_t)))
                    e_o, e_t = float(relative_error(x, d_o)), float(relative_error(x, full))
                    row = dict(algorithm=name, backend=backend, order=order, n=n, entries=entries, rank=r,
                               t_ours=t_o, t_tensorly=t_t, ratio=ratio, err_ours=e_o, err_tensorly=e_t,
                               repeats=repeats)
                    rows.append(row)
                    print(f"| {name} | {backend} | {n}^{order} | {entries:.1e} | {r} | {t_o:.4f} | {t_t:.4f} | "
                          f"{ratio:.2f} | {e_o:.5f} | {e_t:.5f} |", flush=True)
                    if args.out is not None:
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    if args.out is not None:
        plot(rows, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
