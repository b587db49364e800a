"""GANs against the real floor and a VAE, at a fixed CPU budget per model: DCGAN (non-saturating),
SN-GAN (hinge), WGAN-GP (λ = 10, n_critic = 5) and the convolutional VAE, each scored by FID with
our classifier and Kynkäänniemi et al.'s precision/recall (k = 3) on 2,000 samples against 2,000
test images, all with **one** feature classifier per dataset.

    python benchmarks/ch10_gan_matrix.py OUT_DIR                          # mnist, 300 s per model
    python benchmarks/ch10_gan_matrix.py OUT_DIR --datasets cifar10 --classifier-epochs 3
    python benchmarks/ch10_gan_matrix.py OUT_DIR --summary                 # the Markdown tables

The classifier (``mnist-cnn-modern`` with the data's channels) is trained first, in a ``ch10-gan``
run whose generator takes a single step on 64 images (its FID is the "untrained generator" row);
every model run then loads it with ``classifier=``. Each model is ``prism run ch10-gan dataset=D
model=M epochs=100 time_budget_s=BUDGET eval_samples=2000 classifier=... threads=1``. A run whose
``result.json`` exists is not repeated. One thread per run: two datasets can run side by side.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tensorprism.recipes import run_recipe

MODELS = {
    "dcgan": dict(model="dcgan"),
    "sngan": dict(model="sngan", loss="hinge"),
    "wgan-gp": dict(model="wgan-gp", loss="wasserstein", gp_weight=10.0, n_critic=5),
    "vae-conv": dict(model="vae-conv", lr=1e-3),
}
COMMON = dict(eval_samples=2000, threads=1, progress=False, tensorboard=False, device="cpu")


def run(out: Path, dataset: str, budget: float, classifier_epochs: int) -> None:
    folder = out / dataset
    clf_run = folder / "classifier-run"
    if not (clf_run / "result.json").exists():
        run_recipe("ch10-gan", dataset=dataset, model="dcgan", max_train=64, epochs=1,
                   classifier_epochs=classifier_epochs, out_dir=str(clf_run), overwrite=True, **COMMON)
    for name, settings in MODELS.items():
        if (folder / name / "result.json").exists():
            continue
        t0 = time.perf_counter()
        run_recipe("ch10-gan", dataset=dataset, epochs=100, time_budget_s=budget,
                   classifier=str(clf_run / "classifier"), out_dir=str(folder / name), overwrite=True,
                   **settings, **COMMON)
        print(f"{dataset} {name}: {time.perf_counter() - t0:.0f} s", flush=True)


def summary(out: Path) -> str:
    tables = []
    for folder in sorted(p for p in out.iterdir() if (p / "classifier-run" / "result.json").exists()):
        base = json.loads((folder / "classifier-run" / "result.json").read_text())["result"]
        rows = [f"**{folder.name}** (classifier {base['classifier_test_acc']:.1%} on the scored test images)", "",
                "| model | steps | FID (our classifier) | precision | recall |", "|---|---|---|---|---|",
                f"| real floor (validation images) | — | {base['real_floor_fid']:.2f} | "
                f"{base['real_floor_precision']:.2f} | {base['real_floor_recall']:.2f} |",
                f"| untrained generator (1 step) | 1 | {base['fid_our_classifier']:.1f} | "
                f"{base['precision']:.2f} | {base['recall']:.2f} |"]
        for name in MODELS:
            path = folder / name / "result.json"
            if path.exists():
                r = json.loads(path.read_text())["result"]
                rows.append(f"| {name} | {r['steps']} | {r['fid_our_classifier']:.1f} | {r['precision']:.2f} | "
                            f"{r['recall']:.2f} |")
        tables.append("\n".join(rows))
    return "\n\n".join(tables)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--datasets", nargs="*", default=["mnist"], choices=["mnist", "fashion-mnist", "cifar10"])
    ap.add_argument("--budget", type=float, default=300.0, help="seconds of training per model")
    ap.add_argument("--classifier-epochs", type=int, default=2)
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    if not args.summary:
        for dataset in args.datasets:
            run(out, dataset, args.budget, args.classifier_epochs)
    print(summary(out))


if __name__ == "__main__":
    main()
