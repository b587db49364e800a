#!/usr/bin/env bash
# The measurements that need a GPU, in one go (<= 10 minutes on one H100/A100), each in its own
# process so that one failure does not stop the others; results in $OUT/*.json and $OUT/summary.md.
#
#   TENSORPRISM_DATA=<data root> bash benchmarks/gpu_suite.sh            # on a machine with a GPU
#   bash benchmarks/gpu_suite.sh --dry-run                                # tiny sizes on a CPU (CI)
#
# Environment: OUT (default gpu_suite_results), PY (default python3; .venv/bin/python if present),
# RESNET20_EPOCHS (30), FASTCIFAR_EPOCHS (10), NPROC (GPUs for the DDP/FSDP check; default all).
# Sections: mfu (GPT-2 small bf16 tokens/s and MFU), resnet20 (CIFAR-10 ResNet-20 recipe),
# fastcifar (benchmarks/fast_cifar10.py towards 94 %), trainer (AMP + DDP/FSDP over NCCL via torchrun).
set -u
cd "$(dirname "$0")/.."
DRY=""
[ "${1:-}" = "--dry-run" ] && DRY="--dry-run"
OUT=${OUT:-gpu_suite_results}
if [ -z "${PY:-}" ]; then PY=python3; [ -x .venv/bin/python ] && PY=.venv/bin/python; fi
mkdir -p "$OUT"
: >"$OUT/log.txt"
if [ -n "$DRY" ]; then
  export OMP_NUM_THREADS=1
  NPROC=${NPROC:-2}  # two gloo processes on the CPU
else
  NPROC=${NPROC:-$($PY -c "import torch; print(max(torch.cuda.device_count(), 1))")}
  $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "no CUDA device: run with --dry-run on a CPU" >&2; exit 2; }
  nvidia-smi >>"$OUT/log.txt" 2>&1 || true
fi
status=0
run() {  # name, command...
  local name=$1; shift
  echo "=== $name $(date -u +%T)" >>"$OUT/log.txt"
  local t0=$SECONDS
  if "$@" >>"$OUT/log.txt" 2>&1; then
    echo "$name: ok ($((SECONDS - t0)) s)" | tee -a "$OUT/log.txt"
  else
    echo "$name: FAILED ($((SECONDS - t0)) s), see $OUT/log.txt" | tee -a "$OUT/log.txt"
    status=1
  fi
}
run mfu $PY benchmarks/gpu_suite.py mfu --out "$OUT" $DRY
run resnet20 $PY benchmarks/gpu_suite.py resnet20 --out "$OUT" $DRY
run fastcifar $PY benchmarks/gpu_suite.py fastcifar --out "$OUT" $DRY
run trainer $PY -m torch.distributed.run --standalone --nproc_per_node="$NPROC" \
  benchmarks/gpu_suite.py trainer --out "$OUT" $DRY
$PY - "$OUT" <<'PYEOF' || status=1
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = []
for name in ("mfu", "resnet20", "fastcifar", "trainer"):
    f = out / f"{name}.json"
    if not f.exists():
        rows.append(f"| {name} | missing | |")
        continue
    r = json.loads(f.read_text())
    if name == "mfu":
        mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] is not None else "n/a (peak unknown)"
        rows.append(f"| mfu | {r['tokens_per_s']:.0f} tokens/s, {r['achieved_tflops']:.1f} TFLOP/s, MFU {mfu} | {r['device']} |")
    elif name == "resnet20":
        rows.append(f"| resnet20 | {r['epochs']} epochs, test acc {100 * r['test_acc']:.2f} %, {r['seconds']:.0f} s | {r['device']} |")
    elif name == "fastcifar":
        rows.append(f"| fastcifar | {r['epochs']} epochs, test acc {100 * r['test_acc']:.2f} %, train {r['train_seconds']:.1f} s | {r['device']} |")
    else:
        paths = ", ".join(f"{x['strategy']}/{x['precision']}/{x['backend']}" for x in r["runs"])
        rows.append(f"| trainer | all losses finite: {r['all_finite']} ({paths}) | {r['device']} |")
(out / "summary.md").write_text("| section | result | device |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n")
print((out / "summary.md").read_text())
PYEOF
exit $status
