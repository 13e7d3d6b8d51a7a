#!/usr/bin/env bash
# One prepared session on a lent GPU machine (issues 13 and 17), in a fixed
# wall-clock budget: set up the stack, train PCNet-M at the reference's
# model size for as many updates as fit, then run the inference benchmark.
#
#   1. install the carried pure-Python wheels (.whl/, see below) into
#      /tmp/site and build mmcv 2.1.0 with its CPU ops from the carried
#      source (the GPU is hidden during the build so that no CUDA ops are
#      compiled: mmdeocc needs none);
#   2. a 60-update probe of configs/pcnet_m/pcnet-m_unet-w2_1xb64-4k_
#      coco128-train104.py measures seconds per update (data loading
#      included);
#   3. the real run, with max_iters (and the cosine schedule's length) set
#      to the updates that fit the time left before the benchmark's share;
#      its last checkpoint is slimmed to fp16 weights + meta;
#   4. tools/benchmarks/gpu_bench.sh (inference benchmark) with what is
#      left.
# Everything is written under OUT (default work_dirs/gpu_session): the log,
# the resolved config, the training log, the slim checkpoint and the
# benchmark's JSON rows. A stage that fails is reported and the next runs.
#
# Prepare on a machine with registry access (from the repository root):
#   echo /.whl/ >> .git/info/exclude; mkdir -p .whl
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl mmengine==0.10.7 mmdet==3.3.0 pycocotools addict yapf \
#       termcolor terminaltables platformdirs 'setuptools<82' shapely
#   # and mmcv-2.1.0.tar.gz (the source release from PyPI) into .whl/
#   python tools/dataset_converters/split_coco.py \
#       data/coco128/annotations/instances_train2017.json \
#       --holdout-ids 9,312,438,612 --num-holdout 24 --seed 0 \
#       --out-dir data/coco128/splits
# then run it there, carrying .whl and data/coco128/splits:
#   OUT=/tmp/out BUDGET_S=560 bash tools/benchmarks/gpu_session.sh
set -uo pipefail
START=$(date +%s)
BUDGET_S=${BUDGET_S:-560}          # the whole script, seconds
BENCH_S=${BENCH_S:-110}            # kept for stage 4
OUT=${OUT:-work_dirs/gpu_session}
PYTHON=${PYTHON:-python3}
CONFIG=${CONFIG:-configs/pcnet_m/pcnet-m_unet-w2_1xb64-4k_coco128-train104.py}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

elapsed() { echo $(( $(date +%s) - START )); }
log() { echo "[gpu_session $(elapsed)s] $*"; }

# 1. the stack
if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ]; then
  log "installing carried wheels"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || log "wheels FAILED"
  export PYTHONPATH=/tmp/site:$PWD
  # torch builds extensions in parallel only with ninja on PATH
  NINJA_BIN=$("$PYTHON" -c "import ninja, os; print(ninja.BIN_DIR)" 2>/dev/null)
  [ -n "$NINJA_BIN" ] && export PATH="$PATH:$NINJA_BIN"
  command -v ninja >/dev/null || log "no ninja: mmcv builds serially (slow)"
  if ! "$PYTHON" -c "import mmcv.ops" 2>/dev/null; then
    log "building mmcv 2.1.0 (CPU ops) with $(nproc) jobs"
    CUDA_VISIBLE_DEVICES= MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc) \
      "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation \
      --no-cache-dir --target /tmp/site .whl/mmcv-2.1.0.tar.gz \
      > /tmp/mmcv_build.log 2>&1 || {
        log "mmcv build FAILED"; cp /tmp/mmcv_build.log "$OUT/"; }
  fi
fi
"$PYTHON" -c "import torch, mmcv.ops, mmdet, mmdeocc; \
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-', \
'mmdet', mmdet.__version__, 'mmdeocc', mmdeocc.__version__)" || {
  log "the stack does not import: stopping"; exit 1; }
log "stack ready"

# 2. probe: seconds per update, data loading included
PROBE_DIR=/tmp/gpu_probe
rm -rf "$PROBE_DIR"
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$PROBE_DIR" --cfg-options \
  train_cfg.max_iters=60 default_hooks.logger.interval=20 \
  default_hooks.checkpoint.interval=100000 \
  log_processor.window_size=20 > /tmp/probe.log 2>&1
SEC_PER_ITER=$(grep -o 'Iter(train) \[ *60/60\].* time: [0-9.]*' /tmp/probe.log \
  | grep -o 'time: [0-9.]*' | tail -1 | cut -d' ' -f2)
if [ -z "$SEC_PER_ITER" ]; then
  log "probe FAILED"; cp /tmp/probe.log "$OUT/"; tail -30 /tmp/probe.log
else
  # 3. the run: as many updates as fit, 25 s kept for start-up and saving
  TRAIN_S=$(( BUDGET_S - $(elapsed) - BENCH_S - 25 ))
  ITERS=$("$PYTHON" -c "print(max(100, int($TRAIN_S / $SEC_PER_ITER) // 100 * 100))")
  log "probe: $SEC_PER_ITER s/update; training $ITERS updates in ~${TRAIN_S}s"
  WORK=/tmp/gpu_train
  rm -rf "$WORK"
  timeout $(( TRAIN_S + 40 )) "$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK" \
    --cfg-options train_cfg.max_iters="$ITERS" max_iters="$ITERS" \
    param_scheduler.0.end="$ITERS" param_scheduler.0.T_max="$ITERS" \
    default_hooks.checkpoint.interval=$(( ITERS / 4 )) \
    > "$OUT/train.log" 2>&1 || log "training ended early (see train.log)"
  log "training done"
  grep -E "Iter\(train\)" "$OUT/train.log" | tail -3
  grep -E "probe|Iter\(train\) \[ *60/60" /tmp/probe.log | tail -1
  cp "$WORK"/*/vis_data/scalars.json "$OUT/scalars.json" 2>/dev/null
  cp "$WORK"/*/vis_data/config.py "$OUT/config.py" 2>/dev/null
  LAST=$(cat "$WORK/last_checkpoint" 2>/dev/null)
  if [ -n "$LAST" ]; then
    "$PYTHON" - "$LAST" "$OUT/pcnet_m_w2_gpu.pth" <<'PYEOF'
import sys

import torch

from mmdeocc.utils.checkpoint import safe_torch_load

ckpt = safe_torch_load(sys.argv[1], map_location='cpu')
state = {k: (v.half() if v.is_floating_point() else v)
         for k, v in ckpt['state_dict'].items()}
meta = {k: ckpt['meta'][k] for k in
        ('cfg', 'iter', 'seed', 'experiment_name', 'mmengine_version')
        if k in ckpt['meta']}
torch.save({'state_dict': state, 'meta': meta}, sys.argv[2])
print('slim checkpoint:', sys.argv[2], 'iter', meta.get('iter'))
PYEOF
  fi
fi

# 4. the inference benchmark with the time that is left
BENCH_LEFT=$(( BUDGET_S - $(elapsed) - 5 ))
log "inference benchmark (${BENCH_LEFT}s left)"
if [ "$BENCH_LEFT" -gt 20 ]; then
  OUT="$OUT" PYTHON="$PYTHON" timeout "$BENCH_LEFT" \
    bash tools/benchmarks/gpu_bench.sh > "$OUT/bench.log" 2>&1 \
    || log "benchmark ended early (see bench.log)"
  grep -E "^\|" "$OUT/bench.log" | head -60
fi
log "done"
