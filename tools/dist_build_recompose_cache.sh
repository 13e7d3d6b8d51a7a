#!/usr/bin/env bash
# The re-composition cache on several processes with torchrun: images are
# sharded across ranks (chunk k -> rank k % NPROC); rank 0 writes the index.
# Usage: bash tools/dist_build_recompose_cache.sh CONFIG PCNET_M PCNET_C NPROC \
#            --ann IN.json --img-dir IMAGES --out-dir CACHE [more args...]
#   GPUs: ranks share GPUs round-robin when NPROC exceeds their count;
#   CPU-only machines: CPU processes. Ranks exchange control messages only.
set -euo pipefail
CONFIG=$1
PCNET_M=$2
PCNET_C=$3
NPROC=$4
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$(dirname "$0")/build_recompose_cache.py" "$CONFIG" "$PCNET_M" \
    "$PCNET_C" --launcher pytorch "${@:5}"
