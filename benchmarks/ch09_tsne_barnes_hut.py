"""Barnes-Hut t-SNE against scikit-learn's on the real digits (same perplexity, angle, steps and
PCA initialisation), and the time of one repulsion evaluation, exact dense vs tree, side by side
in one process on one thread.

    python benchmarks/ch09_tsne_barnes_hut.py --n 600
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE as SkTSNE

from tensorprism.unsupervised import TSNE
from tensorprism.unsupervised.barnes_hut import barnes_hut_repulsion


def exact_repulsion(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    num = 1 / (1 + torch.cdist(y, y) ** 2)
    num.fill_diagonal_(0)
    return (num**2).sum(1, keepdim=True) * y - (num**2) @ y, num.sum()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600, help="digits embedded (of 1,797)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[1797, 5000], help="N for the repulsion timing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = load_digits().data[: args.n]
    out: dict = {"n": args.n}
    t = time.perf_counter()
    ours = TSNE(perplexity=30, method="barnes_hut", angle=0.5, random_state=0).fit(x)
    out["ours_bh_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sk = SkTSNE(perplexity=30, method="barnes_hut", angle=0.5, random_state=0, init="pca", max_iter=1000,
                n_jobs=1).fit(x)
    out["sklearn_bh_s"] = time.perf_counter() - t
    out["ours_bh_kl"], out["sklearn_bh_kl"] = ours.kl_divergence_, float(sk.kl_divergence_)
    out["rel_diff"] = abs(ours.kl_divergence_ - sk.kl_divergence_) / sk.kl_divergence_
    for m in args.sizes:
        y = torch.randn(m, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 10
        t = time.perf_counter()
        rep, _ = exact_repulsion(y)
        exact_s = time.perf_counter() - t
        t = time.perf_counter()
        r, _ = barnes_hut_repulsion(y, 0.5)
        out[f"repulsion_{m}"] = {"exact_s": exact_s, "bh_s": time.perf_counter() - t,
                                 "rel_err": float((r - rep).norm() / rep.norm())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
