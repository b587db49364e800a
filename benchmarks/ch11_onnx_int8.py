"""int8 ONNX (PT2E QDQ graph) against fp32 ONNX in onnxruntime: accuracy, file size, CPU latency.

    TENSORPRISM_DATA=... python benchmarks/ch11_onnx_int8.py --run RUN --model resnet20-cifar --out DIR \\
        [--max-test 1000] [--rounds 10]

``--run``: a trained model's run directory (``None``: an untrained model, latency only). The int8
graph comes from :func:`tensorprism.compress.quantize_pt2e_int8` (torchao's X86InductorQuantizer,
``--calib-batches`` x 64 training images). onnxruntime runs on one thread; the two sessions are timed
in turns (round r runs both), median over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from tensorprism.compress import export_onnx, quantize_pt2e_int8
from tensorprism.optional import require


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None)
    ap.add_argument("--model", default="resnet20-cifar", choices=("resnet20-cifar", "lenet5"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-test", type=int, default=1000)
    ap.add_argument("--calib-batches", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ort = require("onnxruntime", feature="timing ONNX models")
    from tensorprism.models import create_model
    from tensorprism.recipes.ch11_compress import _calibration, _splits
    from tensorprism.train.checkpoint import load_model

    train, test, _ = _splits(args.model, 0, 2000, args.max_test, None)
    model = (load_model(args.run) if args.run else create_model(args.model)).cpu().eval()
    int8 = quantize_pt2e_int8(model, _calibration(train, args.calib_batches))
    out = Path(args.out)
    x = next(iter(torch.utils.data.DataLoader(test, batch_size=args.batch)))[0]
    paths = {"fp32": export_onnx(model, x[:2], out / "fp32.onnx"),
             "int8-qdq": export_onnx(int8, x[:2], out / "int8.onnx", check=False)}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for k, p in paths.items()}

    def run(k, xb):
        s = sessions[k]
        return s.run(None, {s.get_inputs()[0].name: xb.numpy()})[0]

    acc = {}
    for k in sessions:
        correct = total = 0
        for xb, yb in torch.utils.data.DataLoader(test, batch_size=250):
            correct += int((np.argmax(run(k, xb), 1) == yb.numpy()).sum())
            total += len(yb)
        acc[k] = correct / total
    times = {k: [] for k in sessions}
    for k in sessions:
        run(k, x)  # warm-up
    for _ in range(args.rounds):
        for k in sessions:
            t0 = time.perf_counter()
            run(k, x)
            times[k].append(time.perf_counter() - t0)
    base = statistics.median(times["fp32"])
    rows = [{"variant": k, "test_acc": acc[k], "latency_ms": 1e3 * statistics.median(times[k]),
             "speedup": base / statistics.median(times[k]), "file_kb": paths[k].stat().st_size / 1024}
            for k in sessions]
    lines = [f"{args.model} ({args.run or 'untrained'}), onnxruntime 1 thread, batch {args.batch}, "
             f"{args.rounds} interleaved rounds, {len(test)} test images", "",
             "| ONNX graph | test acc | latency (ms) | speed-up | file KiB |", "|---|---|---|---|---|"]
    lines += [f"| {r['variant']} | {100 * r['test_acc']:.2f} % | {r['latency_ms']:.1f} | {r['speedup']:.2f}× | "
              f"{r['file_kb']:.0f} |" for r in rows]
    (out / "onnx_int8.md").write_text("\n".join(lines) + "\n")
    (out / "onnx_int8.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
