#!/usr/bin/env bash
# Chapter 5 accelerator runs: equality/speed table, Tiny Shakespeare char-LSTM, SST-2 BiLSTM and
# Multi30k GRU+attention, each a separate process so one failure does not stop the others.
# Usage: TENSORPRISM_DATA=<data root> OUT=<folder> bash benchmarks/ch05_gpu_runs.sh
set -u
OUT=${OUT:-runs/ch05_gpu}
PY=${PY:-python3}
mkdir -p "$OUT"
run() {  # name, python code
  echo "=== $1 $(date -u +%T)" >>"$OUT/log.txt"
  $PY -c "$2" >>"$OUT/log.txt" 2>&1 || echo "!!! $1 failed" >>"$OUT/log.txt"
}
$PY benchmarks/ch05_rnn_speed.py --reps 30 >"$OUT/speed.md" 2>>"$OUT/log.txt"
run char_lm "from tensorprism.recipes import run_recipe as r; x=r('ch05-char-lm', batch_size=64, seq_len=128, max_steps=3000, eval_every=500, dropout=0.25, lr=2e-3, time_budget_s=${LM_BUDGET:-170}, out_dir='$OUT'); print(x['val_loss'], x['steps'], x['seconds'])"
run sst2 "from tensorprism.recipes import run_recipe as r; x=r('ch05-sst2', epochs=${SST_EPOCHS:-5}, out_dir='$OUT'); print(x['test_acc'], x['dev_acc_per_epoch'])"
run translation "from tensorprism.recipes import run_recipe as r; x=r('ch05-translation', epochs=${MT_EPOCHS:-12}, time_budget_s=${MT_BUDGET:-200}, out_dir='$OUT'); print(x['test2016_bleu_greedy'], x['test2016_bleu_beam'], x['curve'])"
echo "=== done $(date -u +%T)" >>"$OUT/log.txt"
