"""CPU latency of int8 and structurally pruned models against fp32, measured interleaved.

Latency does not depend on the trained values of the weights, so the models are built untrained
(accuracy is measured by the ch11 recipes). For each model the variants are timed in turns —
round r runs every variant once — so a load change on a shared machine hits all of them alike;
the table gives the median over rounds and the ratio to fp32.

    python benchmarks/ch11_latency.py --rounds 30 --batch 64 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from tensorprism.compress import (
    compress,
    model_size_bytes,
    prune_filters_l1,
    quantize_dynamic_int8,
    quantize_static_int8,
)
from tensorprism.models import count_parameters, create_model


def variants(batch: int):
    torch.manual_seed(0)
    mlp = create_model("mlp-mnist").eval()
    lstm = create_model("rnn-classifier", vocab_size=None, input_size=28, embed_dim=64, hidden_size=128,
                        bidirectional=False, pooling="last", dropout=0.0, num_classes=10).eval()
    resnet = create_model("resnet20-cifar").eval()
    lenet = create_model("lenet5").eval()
    x_img, x_c = torch.randn(batch, 1, 28, 28), torch.randn(batch, 3, 32, 32)
    calib_c = [torch.randn(64, 3, 32, 32) for _ in range(4)]
    calib_m = [torch.randn(64, 1, 28, 28) for _ in range(4)]
    yield "mlp-mnist", torch.randn(batch, 784), {"fp32": mlp, "int8-dynamic": quantize_dynamic_int8(mlp)}
    yield "lstm-mnist (28 steps)", torch.randn(batch, 28, 28), {"fp32": lstm, "int8-dynamic": quantize_dynamic_int8(lstm)}
    yield "lenet5", x_img, {"fp32": lenet, "int8-static": quantize_static_int8(lenet, calib_m),
                            **{f"filters-{a}": prune_filters_l1(lenet, a) for a in (0.25, 0.5, 0.75)}}
    yield "resnet20-cifar", x_c, {"fp32": resnet, "int8-static": quantize_static_int8(resnet, calib_c),
                                  **{f"filters-{a}": prune_filters_l1(resnet, a) for a in (0.25, 0.5, 0.75)},
                                  # Tucker at the parameter budgets the filter pruning reaches (ch11-prune)
                                  **{f"tucker-{r}": compress(resnet, "tucker", r, min_params=1000)
                                     for r in (0.75, 0.5, 0.25)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", nargs="*", default=None, help="model names to time (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, x, models in variants(args.batch):
        if args.only and name not in args.only:
            continue
        times = {k: [] for k in models}
        with torch.inference_mode():
            for m in models.values():  # warm-up
                m(x)
            for _ in range(args.rounds):
                for k, m in models.items():
                    t0 = time.perf_counter()
                    m(x)
                    times[k].append(time.perf_counter() - t0)
        base = statistics.median(times["fp32"])
        for k, m in models.items():
            med = statistics.median(times[k])
            params = count_parameters(m) if not k.startswith("int8") else count_parameters(models["fp32"])
            rows.append({"model": name, "variant": k, "latency_ms": 1e3 * med, "speedup": base / med,
                         "params": params, "size_kb": model_size_bytes(m) / 1024})
            print(f"| {name} | {k} | {1e3 * med:.2f} | {base / med:.2f}× | {params:,} | {model_size_bytes(m) / 1024:.0f} |",
                  flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "batch": args.batch, "threads": args.threads, "rounds": args.rounds}, fh, indent=1)


if __name__ == "__main__":
    main()
