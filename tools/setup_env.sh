#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in ./.venv with the pinned stack.
#
# Idempotent: a second run checks the installed versions and returns in seconds.
# mmcv 2.1.0 has no wheel with ops for torch 2.13, so it is built from source once
# (about 10 minutes on 2 cores) and the wheel is cached outside the clone in
# ${MMDEOCC_WHEEL_CACHE:-$HOME/.cache/mmdeocc/wheels}; later installs take seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMDEOCC_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
WHEELS="${MMDEOCC_WHEEL_CACHE:-$HOME/.cache/mmdeocc/wheels}"
TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMDET_VERSION=3.3.0
STAMP="$VENV/.mmdeocc-stack-v1"

log() { printf '[setup_env] %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  # --system-site-packages is not used: the environment is self-contained.
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)

if [ -f "$STAMP" ] && "$PY" - <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
want = {'mmcv': '2.1.0', 'mmengine': '0.10.7', 'mmdet': '3.3.0'}
ok = all(md.version(k) == v for k, v in want.items())
import mmcv.ops  # noqa: F401  (fails if the ops were not built)
import mmdeocc  # noqa: F401
sys.exit(0 if ok else 1)
PYEOF
then
  log "environment $VENV is up to date"
  exit 0
fi

# torch: keep an installed build (e.g. CUDA on a GPU machine); otherwise the pinned CPU wheel.
if ! "$PY" -c "import torch" 2>/dev/null; then
  log "installing torch==$TORCH_VERSION"
  "${PIP[@]}" install "torch==$TORCH_VERSION"
fi
"${PIP[@]}" install "setuptools<82" wheel ninja "numpy" "pycocotools" "tqdm" "pytest" "matplotlib" "opencv-python-headless"

mkdir -p "$WHEELS"
MMCV_WHEEL=$(ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$MMCV_WHEEL" ]; then
  log "building mmcv==$MMCV_VERSION with ops from source (one time, ~10 min on 2 cores)"
  TMP_WHEELS=$(mktemp -d)
  MMCV_WITH_OPS=1 FORCE_CUDA="${FORCE_CUDA:-0}" MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "${PIP[@]}" wheel --no-build-isolation --no-deps "mmcv==$MMCV_VERSION" -w "$TMP_WHEELS"
  mv "$TMP_WHEELS"/mmcv-*.whl "$WHEELS"/   # atomic within one filesystem, else a plain move
  rmdir "$TMP_WHEELS" 2>/dev/null || true
  MMCV_WHEEL=$(ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
fi
log "installing $MMCV_WHEEL, mmengine, mmdet"
"${PIP[@]}" install "$MMCV_WHEEL" "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" "setuptools<82"
"${PIP[@]}" install --no-build-isolation --no-deps -e "$ROOT"
"$PY" -c "import mmcv.ops, mmdet, mmdeocc; print('mmdeocc', mmdeocc.__version__, 'mmdet', mmdet.__version__)"
touch "$STAMP"
log "environment ready: $VENV"
