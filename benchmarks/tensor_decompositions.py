"""CP-ALS, Tucker-HOOI and TT-SVD: tensorprism vs TensorLy (pytorch backend), side by side.

Each row fits the same noisy low-rank tensor with the same rank, initialisation and stopping rule in
both libraries, checks that the relative errors agree (equal error) and reports the median wall
time of ``--repeats`` runs and the ratio tensorprism / TensorLy (< 1 means tensorprism is faster).

    OMP_NUM_THREADS=1 python benchmarks/tensor_decompositions.py --sizes 64 128 --repeats 5
    python benchmarks/tensor_decompositions.py --device cuda --sizes 64 128 256
"""

from __future__ import annotations

import argparse
import statistics
import time

import tensorly as tl
import torch
from tensorly.decomposition import parafac, tensor_train, tucker

from tensorprism.tensor import cp_als, relative_error, tt_svd, tucker_hooi


def noisy_low_rank(n: int, rank: int, noise: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a, b, c = (torch.randn(n, rank, generator=g) for _ in range(3))
    x = torch.einsum("ir,jr,kr->ijk", a, b, c)
    return x + noise * x.std() * torch.randn(x.shape, generator=g)


def timed(fn, repeats: int, device: torch.device):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up (allocator, BLAS threads, CUDA kernels and solver handles)
    sync()
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def cases(x: torch.Tensor, r: int):
    """(name, tensorprism fit, TensorLy fit) with the same rank, init and stopping rule."""
    return [
        ("CP-ALS (svd init, tol 1e-6)",
         lambda: cp_als(x, r, n_iter_max=100, tol=1e-6),
         lambda: tl.cp_to_tensor(parafac(x, r, n_iter_max=100, tol=1e-6, init="svd"))),
        ("Tucker-HOOI (svd init, tol 1e-4)",
         lambda: tucker_hooi(x, r, n_iter_max=100, tol=1e-4),
         lambda: tl.tucker_to_tensor(tucker(x, [r, r, r], n_iter_max=100, tol=1e-4, init="svd"))),
        ("TT-SVD (ranks 1-r-r-1)",
         lambda: tt_svd(x, rank=r),
         lambda: tl.tt_to_tensor(tensor_train(x, [1, r, r, 1]))),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--rank", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (both libraries run on it)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    tl.set_backend("pytorch")
    r = args.rank
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, tensorly {tl.__version__}, {where}, "
          f"rank {r}, noise {args.noise}, median of {args.repeats}")
    print("| algorithm | tensor | tensorprism s | TensorLy s | ratio | rel. error tensorprism | rel. error TensorLy |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        x = noisy_low_rank(n, r, args.noise).to(device)
        for name, ours, theirs in cases(x, r):
            t_ours, d_ours = timed(ours, args.repeats, device)
            t_tl, d_tl = timed(theirs, args.repeats, device)
            e_ours, e_tl = float(relative_error(x, d_ours)), float(relative_error(x, d_tl))
            print(f"| {name} | {n}³ | {t_ours:.4f} | {t_tl:.4f} | {t_ours / t_tl:.2f} | {e_ours:.5f} | {e_tl:.5f} |")


if __name__ == "__main__":
    main()
