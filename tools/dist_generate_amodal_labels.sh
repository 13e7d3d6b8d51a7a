#!/usr/bin/env bash
# Pseudo-amodal label generation on several processes with torchrun: images
# are sharded across ranks (chunk k -> rank k % NPROC); rank 0 merges.
# Usage: bash tools/dist_generate_amodal_labels.sh CONFIG CHECKPOINT NPROC \
#            --ann IN.json --out OUT.json [generate_amodal_labels.py args...]
#   GPUs: NPROC may exceed the GPU count (ranks share GPUs round-robin, which
#   parallelises the CPU-side work); CPU-only machines: CPU processes.
#   Ranks only exchange control messages (gloo); results go through OUT.parts/.
#   multi-node (OUT on a shared file system):
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=host PORT=29500 bash tools/dist_generate_amodal_labels.sh ...
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
    "$(dirname "$0")/generate_amodal_labels.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
