#!/bin/bash
# Multi-node training with torchrun under SLURM (see docs/distributed.md, "Several nodes").
#
#   sbatch examples/slurm_multinode.sh                      # defaults below
#   sbatch --nodes=4 examples/slurm_multinode.sh model=gpt2 dataset=tinyshakespeare strategy=fsdp
#
# One task per node runs torchrun, which starts one process per GPU; the c10d rendezvous on the
# first node joins the nodes. OUT must be on a filesystem every node sees (FSDP checkpoints are
# written by every rank). Extra arguments are `prism train` key=value settings.
#SBATCH --job-name=tensorprism
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=32
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%j.out

set -euo pipefail

GPUS_PER_NODE=${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-8}}
OUT=${OUT:-$PWD/runs/$SLURM_JOB_NAME-$SLURM_JOB_ID}
MASTER=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
PORT=${PORT:-29500}
SETTINGS=("$@")
[ ${#SETTINGS[@]} -eq 0 ] && SETTINGS=(model=gpt2 dataset=tinyshakespeare strategy=fsdp precision=bf16)

mkdir -p logs "$OUT"
export OMP_NUM_THREADS=$(( SLURM_CPUS_PER_TASK / GPUS_PER_NODE ))
# export NCCL_SOCKET_IFNAME=ib0   # the interface between the nodes, if NCCL picks the wrong one
# export NCCL_DEBUG=INFO          # to diagnose connection problems

# srun starts one torchrun per node; SLURM_NODEID is the node's rank. Every process's own
# stdout/stderr is kept under $OUT/torchrun-logs/ (rank 0 alone prints progress).
srun --kill-on-bad-exit=1 bash -c "
  python -m torch.distributed.run \
    --nnodes=$SLURM_JOB_NUM_NODES --nproc_per_node=$GPUS_PER_NODE --node_rank=\$SLURM_NODEID \
    --rdzv_backend=c10d --rdzv_endpoint=$MASTER:$PORT --rdzv_id=$SLURM_JOB_ID \
    --max_restarts=0 --log-dir=$OUT/torchrun-logs \
    -m tensorprism.cli train --out $OUT ${SETTINGS[*]}
"
# A job cut by --time can be continued with the same script and `prism resume`:
#   srun ... -m tensorprism.cli resume $OUT
