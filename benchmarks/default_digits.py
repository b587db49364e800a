"""`prism train` with no arguments (mlp on scikit-learn digits): test accuracy and wall time per seed.

Target: >= 97 % test accuracy in < 60 s. Wall time covers data loading, model building, training,
evaluation and writing the run directory (not the Python/torch import).

    OMP_NUM_THREADS=1 python benchmarks/default_digits.py [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from tensorprism.train.run import build_trainer, load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = ap.parse_args()
    accs = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            trainer = build_trainer(load_config(overrides=[f"seed={seed}", f"out={out}", "progress=false"])).fit()
            wall = time.perf_counter() - t0
        acc = trainer.final_metrics["test/acc"]
        accs.append(acc)
        print(f"seed {seed}: test acc {acc:.4f}  val acc {trainer.final_metrics['val/acc']:.4f}  wall {wall:.1f} s",
              flush=True)
    print(f"mean test acc {statistics.mean(accs):.4f}, min {min(accs):.4f} over {len(accs)} seeds")


if __name__ == "__main__":
    main()
