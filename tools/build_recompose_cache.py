"""De-occlude a training set once for scene re-composition augmentation.

For every image of a COCO-format (or KINS / COCOA / amodal COCO) training
set: occlusion order and amodal masks (PCNet-M), the completed RGBA layer of
every instance and the inpainted background (PCNet-C), stored compactly in
``OUT_DIR`` (``index.json`` + ``entries/*.npz``; details in
:mod:`mmdeocc.apis.recompose_cache`). The ``DeOcclusionRecompose``
transform of a training pipeline reads it (``configs/recompose/``).

CONFIG holds ``deoccluder = dict(...)`` (DeOccluder options) and ``content =
dict(...)`` (ContentCompleter options); ``none`` = defaults. Checkpoints
load weights-only.

Interrupted runs resume: rerun the same command (finished chunks are kept in
``OUT_DIR/parts/``); other settings are refused unless ``--restart``.

Example::

    python tools/build_recompose_cache.py \\
        configs/recompose/deocc-recompose-cache_scenes.py \\
        checkpoints/pcnet_m_shapes.pth checkpoints/pcnet_c_w025_coco128.pth \\
        --ann data/scenes/tiny_det_train/annotations.json \\
        --img-dir data/scenes/tiny_det_train/images \\
        --out-dir data/scenes/tiny_det_train/recompose_cache

    # 4 processes (GPUs or CPU processes)
    torchrun --nproc_per_node 4 tools/build_recompose_cache.py ... \\
        --launcher pytorch
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # docs/benchmarks.md

import torch  # noqa: E402,F401  (after OMP_WAIT_POLICY is set)
from mmengine.config import DictAction  # noqa: E402
from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.apis.recompose_cache import (  # noqa: E402
    RecomposeCacheBuildError, RecomposeCacheSummary, build_recompose_cache)
from mmdeocc.datasets.formats import READERS  # noqa: E402
from mmdeocc.utils.cli import load_tool_config, run_tool  # noqa: E402
from mmdeocc.utils.distributed import (  # noqa: E402
    finish_job_distributed, init_job_distributed, resolve_job_device)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='De-occlude a training set once (order, amodal masks, '
        'RGBA content layers, background) for the DeOcclusionRecompose '
        'augmentation.')
    parser.add_argument('config', help="config with `deoccluder = dict(...)` "
                        "and `content = dict(...)`, or 'none'")
    parser.add_argument('pcnet_m', help='PCNet-M checkpoint')
    parser.add_argument('pcnet_c', help='PCNet-C checkpoint')
    parser.add_argument('--ann', required=True, help='annotation file')
    parser.add_argument('--img-dir', default='',
                        help='image folder (joined before file_name)')
    parser.add_argument('--out-dir', required=True, help='cache folder')
    parser.add_argument('--format', dest='data_format', default='coco',
                        choices=sorted(READERS), help='annotation format')
    parser.add_argument('--chunk-size', type=int, default=8,
                        help='images per batched core call and per '
                        'resumable part file')
    parser.add_argument('--fast', action='store_true',
                        help='fast, not bit-exact PCNet-M inference')
    parser.add_argument('--device', default=None,
                        help="'cpu', 'cuda', 'cuda:1' (default: cuda if "
                        'available)')
    parser.add_argument('--restart', action='store_true',
                        help='discard existing parts / index')
    parser.add_argument('--keep-parts', action='store_true',
                        help='keep OUT_DIR/parts/ after the merge')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'content.hole_dilation=3')
    parser.add_argument('--launcher', choices=['none', 'pytorch'],
                        default='none', help='job launcher (torchrun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.chunk_size < 1:
        parser.error('--chunk-size must be >= 1')
    return args


def main(argv: Optional[List[str]] = None) -> RecomposeCacheSummary:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        RecomposeCacheSummary: What was done (this rank's view).
    """
    from mmdeocc.deocclusion import ContentCompleter, build_deoccluder
    from mmdeocc.models import load_pcnet_c
    args = parse_args(argv)
    cfg = load_tool_config(args.config, args.cfg_options)
    for path in (args.pcnet_m, args.pcnet_c):
        if not osp.isfile(path):
            raise FileNotFoundError(f'checkpoint not found: {path}')
    device = resolve_job_device(args.device, args.launcher,
                                RecomposeCacheBuildError)
    init_job_distributed(args.launcher, device)
    deocc_opts = dict(cfg.get('deoccluder', None) or {})
    deocc_opts.update(checkpoint=args.pcnet_m, device=device,
                      fast=bool(args.fast or deocc_opts.get('fast', False)))
    deoccluder = build_deoccluder(deocc_opts)
    completer = ContentCompleter(
        load_pcnet_c(args.pcnet_c, device=device), device=device,
        **dict(cfg.get('content', None) or {}))
    summary = build_recompose_cache(
        args.ann, args.out_dir, deoccluder, completer,
        data_format=args.data_format, img_prefix=args.img_dir,
        chunk_size=args.chunk_size, restart=args.restart,
        keep_parts=args.keep_parts, progress=not args.no_progress)
    rank, world_size = get_dist_info()
    if summary.images_processed:
        print_log(
            f'rank {rank}/{world_size}: {summary.images_processed} images in '
            f'{summary.seconds:.1f} s '
            f'({summary.images_processed / summary.seconds:.2f} images/s, '
            f'device {device})', logger='current')
    finish_job_distributed(args.launcher)
    return summary


if __name__ == '__main__':
    sys.exit(run_tool(lambda argv: (main(argv), 0)[1]))
