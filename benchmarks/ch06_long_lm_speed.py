"""Whole-model forward+backward time of the ``ch06-long-lm`` character GPT at one context, for each
attention, interleaved in one process (median of ``--reps`` after one warm-up round).

Usage: OMP_NUM_THREADS=1 python benchmarks/ch06_long_lm_speed.py [--context 2048] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tensorprism import create_model

KINDS = {"full": {}, "linear": {}, "performer": {"num_features": 64, "redraw_interval": 100},
         "local": {"window": 256}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n-embd", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    arch = dict(vocab_size=65, n_layer=2, n_head=4, n_embd=args.n_embd, bias=False, activation="gelu", dropout=0.0,
                block_size=args.context)
    models = {}
    for kind, kw in KINDS.items():
        torch.manual_seed(0)
        models[kind] = create_model("gpt-char", attention=kind, attention_kwargs=kw, **arch)
    ids = torch.randint(0, 65, (1, args.context))
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    for rep in range(args.reps + 1):
        for kind, m in models.items():
            t0 = time.perf_counter()
            m.loss(ids).backward()
            if rep:
                times[kind].append(time.perf_counter() - t0)
            m.zero_grad(set_to_none=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"| attention | fwd+bwd at {args.context} (s) | speed-up vs full |\n|---|---|---|")
    for kind in KINDS:
        print(f"| {kind} | {med[kind]:.3f} | {med['full'] / med[kind]:.2f}× |")


if __name__ == "__main__":
    main()
