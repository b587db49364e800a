"""int8 and pruning measured on an already trained model (a run directory), as markdown tables.

    TENSORPRISM_DATA=... python benchmarks/ch11_trained_compression.py --run RUN --model resnet20-cifar \\
        --out /tmp/ch11-resnet20 --max-test 1000 [--finetune-steps 0] [--skip-quantize]

Runs ``prism run ch11-quantize`` (static int8, calibrated on ``--calib-batches`` x 64 training
images; QAT off) and ``prism run ch11-prune`` (per-layer and global magnitude pruning, structured
L1 filter pruning with parameters and latency, Tucker at the filter-pruned parameter budgets) with
``pretrained=RUN``, on a fixed random subset of the test set, single-threaded. Latency ratios in
these tables are sequential (fp32 first, then each variant); ``benchmarks/ch11_latency.py`` gives
interleaved ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tensorprism.recipes import run_recipe

QUIET = dict(threads=1, progress=False, tensorboard=False, plots=True, overwrite=True)


def quantize_table(res: dict) -> list[str]:
    lines = ["| model | variant | test acc | latency (ms, batch 64) | speed-up | weights KiB |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['model']} | {r['variant']} | {100 * r['test_acc']:.2f} % | {r['latency_ms']:.0f} | "
                     f"{r['speedup']:.2f}× | {r['size_kb']:.0f} |")
    return lines


def prune_table(res: dict) -> list[str]:
    d = res["dense"]
    lines = [f"dense: {100 * d['test_acc']:.2f} %, {d['params']:,} parameters, {d['latency_ms']:.0f} ms", "",
             "| method | target | weights zero / params | acc, no fine-tune | acc, fine-tuned | latency speed-up |",
             "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        removed = f"{100 * r['sparsity']:.1f} % zero" if r["method"] in ("layer", "global", "iterative") \
            else f"{r['params']:,} params"
        speed = f"{r['speedup']:.2f}×" if "speedup" in r else "—"
        lines.append(f"| {r['method']} | {r['target']} | {removed} | {100 * r['acc_no_finetune']:.2f} % | "
                     f"{100 * r['acc_finetuned']:.2f} % | {speed} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="run directory of the trained model")
    ap.add_argument("--model", default="resnet20-cifar", choices=("resnet20-cifar", "lenet5"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-test", type=int, default=1000)
    ap.add_argument("--max-train", type=int, default=5000, help="images for calibration and fine-tuning")
    ap.add_argument("--calib-batches", type=int, default=4)
    ap.add_argument("--finetune-steps", type=int, default=0)
    ap.add_argument("--latency-repeats", type=int, default=5)
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    ap.add_argument("--filter-amounts", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    ap.add_argument("--skip-quantize", action="store_true")
    ap.add_argument("--skip-prune", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    lines = [f"# {args.model} from {args.run}: int8 and pruning (test subset of {args.max_test} images)", ""]
    if not args.skip_quantize:
        q = run_recipe("ch11-quantize", models=[args.model], pretrained={args.model: args.run}, max_test=args.max_test,
                       cnn_max_train=args.max_train, max_train=args.max_train, calib_batches=args.calib_batches,
                       qat_steps=0, latency_repeats=args.latency_repeats, onnx=False, out_dir=str(out / "quantize"),
                       **QUIET)
        lines += ["## static int8", ""] + quantize_table(q) + [""]
        (out / "tables.md").parent.mkdir(parents=True, exist_ok=True)
        (out / "tables.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
    if not args.skip_prune:
        p = run_recipe("ch11-prune", model=args.model, pretrained=args.run, max_test=args.max_test,
                       max_train=args.max_train, methods=["layer", "global", "filters", "tucker"],
                       sparsities=args.sparsities, filter_amounts=args.filter_amounts,
                       finetune_steps=args.finetune_steps, latency_repeats=args.latency_repeats,
                       out_dir=str(out / "prune"), **QUIET)
        lines += ["## pruning", ""] + prune_table(p) + [""]
    (out / "tables.md").parent.mkdir(parents=True, exist_ok=True)
    (out / "tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"out": str(out)}))


if __name__ == "__main__":
    main()
