"""CIFAR-10 self-supervised pre-training at a fixed CPU budget: SimCLR, MoCo v2, BYOL and SwAV against
a randomly initialised and a supervised encoder of the same architecture (ResNet-18, CIFAR stem),
each scored by weighted kNN (k=200, cosine, T=0.1) and a linear probe on frozen eval-mode features.

    python benchmarks/ch09_ssl_cifar.py OUT_DIR                         # every arm, 600 s each
    python benchmarks/ch09_ssl_cifar.py OUT_DIR --arms simclr moco --budget 600
    python benchmarks/ch09_ssl_cifar.py OUT_DIR --summary               # the Markdown table

Each arm is ``prism run ch09-ssl method=ARM dataset=cifar10 encoder=resnet18-cifar batch_size=128
time_budget_s=BUDGET eval_train_samples=5000 eval_test_samples=2000 threads=1`` (SGD, lr 0.06,
momentum 0.9, weight decay 5e-4, cosine annealed over the budget; lightly's benchmark settings
apart from the budget); the random encoder is evaluated in the first arm's run. An arm whose
``result.json`` exists is not repeated. One thread per run: two arms can run side by side on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tensorprism.recipes import run_recipe

ARMS = ("simclr", "moco", "byol", "swav", "supervised")
COMMON = dict(dataset="cifar10", encoder="resnet18-cifar", batch_size=128, eval_train_samples=5000,
              eval_test_samples=2000, threads=1, progress=False, tensorboard=False, plots=False, device="cpu")


def run(out: Path, arms: list[str], budget: float, random_baseline: bool) -> None:
    for i, arm in enumerate(arms):
        folder = out / arm
        if (folder / "result.json").exists():
            continue
        t0 = time.perf_counter()
        run_recipe("ch09-ssl", method=arm, time_budget_s=budget, out_dir=str(folder), overwrite=True,
                   baseline_random=random_baseline and i == 0, **COMMON)
        print(f"{arm}: {time.perf_counter() - t0:.0f} s", flush=True)


def summary(out: Path) -> str:
    rows = ["| encoder | pre-training steps (epochs) | kNN acc | linear-probe acc |", "|---|---|---|---|"]
    random = None
    for arm in ARMS:
        path = out / arm / "result.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())["result"]
        random = random or r.get("random_encoder")
        rows.append(f"| {arm} | {r['pretrain_steps']} ({r['pretrain_epochs_done']:.2f}) | {r['knn_acc']:.4f} | "
                    f"{r['probe_acc']:.4f} |")
    if random:
        rows.append(f"| random init | 0 | {random['knn_acc']:.4f} | {random['probe_acc']:.4f} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arms", nargs="*", choices=ARMS)
    ap.add_argument("--budget", type=float, default=600.0, help="pre-training seconds per arm")
    ap.add_argument("--no-random", action="store_true", help="do not evaluate the random encoder")
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.summary:
        run(out, list(args.arms or ARMS), args.budget, not args.no_random)
    print(summary(out))


if __name__ == "__main__":
    main()
