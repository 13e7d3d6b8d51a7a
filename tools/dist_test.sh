#!/usr/bin/env bash
# Distributed testing with torchrun: one process per GPU, or per CPU slot on
# a machine without GPUs (torch's gloo backend).
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
#   bash tools/dist_test.sh configs/deocclusion/<cfg>.py det.pth 2 --out r.pkl
#   multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=host PORT=29500 bash ...
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch \
    "${@:4}"
