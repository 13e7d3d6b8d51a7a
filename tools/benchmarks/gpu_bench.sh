#!/usr/bin/env bash
# The GPU benchmark of the inference core, ready for a lent GPU machine
# (issue 17): per-image times, crops/s and the speed-up over sequential
# batch-1 inference (the reference loop, one network call per crop) on the
# same GPU, for the released model size (width 2, 256-px crops, random
# weights) and the committed small checkpoint (width 0.5, 128-px crops),
# exact fp32 and fast mode (fp16 autocast + channels-last), large batches,
# and batching across images (run_many over 8-16 images vs a per-image loop).
# Runs in well under 5 minutes on one H200; writes JSON rows under OUT.
#
# Needs a Python with CUDA torch, mmcv, mmengine, mmdet and pycocotools (the
# device machine has CUDA torch: install the carried pure-Python wheels and
# build mmcv there, see tools/setup_env.sh), run from the repository root:
#   OUT=/tmp/gpu bash tools/benchmarks/gpu_bench.sh
set -euo pipefail
OUT=${OUT:-work_dirs/gpu_bench}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; \
print(torch.cuda.get_device_name(0), torch.__version__)"
BENCH="$(dirname "$0")/bench_deocclusion.py"
"$PYTHON" "$BENCH" --device cuda --width 2 --size 256 \
    --objects 2,5,10,20,50 --batch-size 512 --repeats 3 --images-per-call 8 \
    --out "$OUT/width2_256.json"
"$PYTHON" "$BENCH" --device cuda --checkpoint checkpoints/pcnet_m_shapes.pth \
    --objects 2,5,10,20,50 --batch-size 1024 --repeats 3 --images-per-call 16 \
    --out "$OUT/width05_128.json"
