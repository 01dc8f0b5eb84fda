#!/usr/bin/env bash
# Multi-process training with torchrun: tools/dist_train.sh CONFIG NUM_PROCS [ARGS...]
# Uses NCCL on GPUs and gloo on CPU-only machines. Multi-node: set NNODES, NODE_RANK,
# MASTER_ADDR and MASTER_PORT.
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
  --nproc_per_node="$NPROC" "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
