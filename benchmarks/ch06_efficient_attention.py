"""Efficient attention vs fused softmax attention: time and peak memory against sequence length, and
the Performer's approximation error against its number of random features.

Part 1 runs each method in a fresh child process, lengths in increasing order, and reports the
forward+backward wall time (median of ``--reps``) and the child's peak resident memory above its
state after warm-up (``ru_maxrss``: everything allocated, kernel workspaces and the inputs' gradients
included; the inputs themselves are ``3 × 4 × L × 32`` floats, 1.5 MB at ``L = 1024``). All methods are causal
self-attention on ``q, k, v (1, heads, L, 32)`` except Linformer, which has no causal form and runs
non-causal. ``sdpa`` is ``F.scaled_dot_product_attention(is_causal=True)`` (the fused CPU kernel,
blockwise: it never stores ``L × L`` either); ``sdpa-mask`` gives the same kernel an explicit
``(L, L)`` boolean mask, which is what a sparse pattern costs when it is applied as a mask.

Part 2 measures ``mean |FAVOR+ - softmax attention|`` (relative to ``mean |softmax attention|``) for
several feature counts, averaged over draws.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ch06_efficient_attention.py \
        --out benchmarks/results/ch06_efficient_attention [--max-len 16384] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HEADS, HEAD_DIM = 4, 32
METHODS = ("reference", "sdpa", "sdpa-mask", "linear", "performer", "local", "block-sparse", "dynamic-conv",
           "linformer")
MASK_LIMIT = 4096  # the reference (and an explicit L×L mask) beyond this needs gigabytes


def _run(method: str, q, k, v):
    from tensorprism.functional import efficient_attention as EA
    from tensorprism.nn.efficient_attention import fixed_layout

    L = q.shape[-2]
    if method == "reference":  # the written-out softmax: scores and weights L × L
        from tensorprism.functional.attention import attention_reference

        return attention_reference(q, k, v, torch.ones(L, L, dtype=torch.bool).tril())[0]
    if method == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if method == "sdpa-mask":
        mask = torch.ones(L, L, dtype=torch.bool).tril()
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if method == "linear":
        return EA.linear_attention(EA.elu_feature_map(q), EA.elu_feature_map(k), v, causal=True)
    if method == "performer":
        proj = EA.orthogonal_random_features(64, HEAD_DIM, torch.Generator().manual_seed(0))
        return EA.performer_attention(q, k, v, proj, causal=True)
    if method == "local":
        return EA.sliding_window_attention(q, k, v, 256, causal=True)
    if method == "block-sparse":
        nb = -(-L // 64)
        return EA.block_sparse_attention(q, k, v, fixed_layout(nb, 4, causal=True), 64, causal=True)
    if method == "dynamic-conv":
        w = torch.softmax(q[..., :31], -1)  # per-position kernels of 31 taps (from the queries, for timing)
        return EA.dynamic_conv(v, w, causal=True)
    if method == "linformer":
        g = torch.Generator().manual_seed(0)
        E, Fp = (torch.randn(256, L, generator=g) / 16 for _ in range(2))
        return EA.linformer_attention(q, k, v, E, Fp)
    raise ValueError(method)


def child(method: str, lengths: list[int], reps: int) -> list[dict]:
    """One process per method, lengths in increasing order: ``ru_maxrss`` is the process's high-water
    mark, which grows with ``L`` for every method, so after length ``L`` it is that length's peak."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    warm = [torch.randn(1, HEADS, 256, HEAD_DIM, generator=g).requires_grad_(True) for _ in range(3)]
    _run(method, *warm).sum().backward()  # warm the code paths
    del warm
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = []
    for L in lengths:
        q, k, v = (torch.randn(1, HEADS, L, HEAD_DIM, generator=g).requires_grad_(True) for _ in range(3))
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            _run(method, q, k, v).sum().backward()
            times.append(time.perf_counter() - t0)
            q.grad = k.grad = v.grad = None
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows.append({"method": method, "L": L, "time_s": statistics.median(times), "peak_mb": (peak - base) / 1024})
        print(json.dumps(rows[-1]), flush=True)
        del q, k, v
    return rows


def speed_table(lengths: list[int], reps: int, methods=METHODS) -> list[dict]:
    rows = []
    for m in methods:
        ls = [L for L in lengths if m not in ("sdpa-mask", "reference") or L <= MASK_LIMIT]
        out = subprocess.run([sys.executable, __file__, "--child", m, ",".join(map(str, ls)), "--reps", str(reps)],
                             capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        got = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        rows += got
        if out.returncode != 0:
            rows.append({"method": m, "L": None, "error": (out.stderr.strip().splitlines() or ["?"])[-1]})
        print(m, got[-1:] if got else rows[-1], flush=True)
    return rows


@torch.no_grad()
def performer_error(features: list[int], draws: int = 5, L: int = 512) -> list[dict]:
    from tensorprism.functional import efficient_attention as EA
    from tensorprism.functional.attention import attention_reference

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, HEADS, L, HEAD_DIM, generator=g) for _ in range(3))
    q, k = 0.5 * q, 0.5 * k  # logits q.k/sqrt(d) of std 0.25: a typical trained-model range
    rows = []
    for causal in (False, True):
        mask = torch.ones(L, L, dtype=torch.bool).tril() if causal else None
        exact, _ = attention_reference(q, k, v, mask)
        scale = exact.abs().mean().item()
        for m in features:
            errs = [(EA.performer_attention(q, k, v, EA.orthogonal_random_features(
                m, HEAD_DIM, torch.Generator().manual_seed(s)), causal) - exact).abs().mean().item() / scale
                    for s in range(draws)]
            rows.append({"causal": causal, "features": m, "rel_error": statistics.mean(errs),
                         "rel_error_sd": statistics.pstdev(errs)})
            print(rows[-1], flush=True)
    return rows


def plot(rows: list[dict], err: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for m in METHODS:
        pts = [r for r in rows if r["method"] == m and "error" not in r]
        if pts:
            axes[0].loglog([r["L"] for r in pts], [r["time_s"] for r in pts], "o-", label=m)
            axes[1].loglog([r["L"] for r in pts], [max(r["peak_mb"], 0.1) for r in pts], "o-", label=m)
    axes[0].set(xlabel="sequence length L", ylabel="forward + backward (s)", title="time (1 thread)")
    axes[1].set(xlabel="sequence length L", ylabel="peak memory above start (MB)", title="peak memory")
    axes[0].legend(fontsize=7)
    for causal in (False, True):
        pts = [r for r in err if r["causal"] == causal]
        axes[2].errorbar([r["features"] for r in pts], [r["rel_error"] for r in pts],
                         yerr=[r["rel_error_sd"] for r in pts], marker="o", label="causal" if causal else "bidirectional")
    axes[2].set(xscale="log", yscale="log", xlabel="random features m", ylabel="mean |FAVOR+ − softmax| / mean |softmax|",
                title=f"Performer error (L=512, d={HEAD_DIM})")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "LENGTHS"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-len", type=int, default=16384)
    ap.add_argument("--out", default="benchmarks/results/ch06_efficient_attention")
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    ap.add_argument("--merge", action="store_true",
                    help="add the measured methods to the existing <out>.json (same machine session) and redraw")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], [int(v) for v in args.child[1].split(",")], args.reps)
        return
    torch.set_num_threads(1)
    lengths = [L for L in (256, 512, 1024, 2048, 4096, 8192, 16384) if L <= args.max_len]
    out = Path(args.out)
    rows = speed_table(lengths, args.reps, args.methods)
    if args.merge and out.with_suffix(".json").exists():
        old = json.loads(out.with_suffix(".json").read_text())
        rows = [r for r in old["speed"] if r["method"] not in args.methods] + rows
        err = old["performer"]
    else:
        err = performer_error([8, 16, 32, 64, 128, 256, 512, 1024])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"speed": rows, "performer": err}, indent=1))
    plot(rows, err, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
