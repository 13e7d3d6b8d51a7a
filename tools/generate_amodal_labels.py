"""Turn a modal instance dataset into pseudo-amodal annotations.

For every image: occlusion order + amodal mask of every instance, written as
``OUT`` (the project's amodal COCO format: modal ``segmentation`` / ``bbox``
/ ``area`` kept, ``amodal_segmentation`` / ``amodal_bbox`` / ``amodal_area``
added, per image ``occlusion_edges``) and ``OUT`` with the suffix
``_amodal_view.json`` (``segmentation`` / ``bbox`` / ``area`` = amodal), on
which any MMDetection instance segmenter trains unchanged
(``configs/amodal/``). Details: :mod:`mmdeocc.apis.amodal_labels`.

CONFIG holds ``deoccluder = dict(...)`` (options of
:class:`mmdeocc.deocclusion.DeOccluder`) and may hold ``model = dict(type=
'PCNetM', ...)`` (used instead of the config stored in the checkpoint);
``none`` = default options. CHECKPOINT is a PCNet-M checkpoint (weights-only
loading), ``none`` for the geometric methods and ``gt``. No image is read.

Interrupted runs resume: rerun the same command (finished chunks are kept in
``OUT.parts/``); other settings are refused unless ``--restart``.

Examples::

    # KINS with the PCNet-M (converted official or self-trained weights)
    python tools/generate_amodal_labels.py \\
        configs/amodal/deocc-labels_kins.py checkpoints/pcnet_m_kins.pth \\
        --ann data/kins/update_train_2020.json --format kins \\
        --out data/kins/pseudo_amodal/train_ours.json --device cuda --fast

    # Convex^R baseline labels (no network)
    python tools/generate_amodal_labels.py none none --method convexr \\
        --ann data/kins/update_train_2020.json --format kins \\
        --out data/kins/pseudo_amodal/train_convexr.json

    # the ground-truth amodal view to evaluate amodal mask AP on
    python tools/generate_amodal_labels.py none none --method gt \\
        --ann data/kins/update_test_2020.json --format kins \\
        --out data/kins/pseudo_amodal/test_gt.json

    # 8 processes (on 8 GPUs, 4 per GPU on 2 GPUs, or CPU processes)
    bash tools/dist_generate_amodal_labels.sh CONFIG CHECKPOINT 8 --ann ...
"""
import argparse
import logging
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # docs/benchmarks.md

import torch  # noqa: E402,F401  (after OMP_WAIT_POLICY is set)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.apis.amodal_labels import (  # noqa: E402
    LABEL_METHODS, NETWORK_METHODS, AmodalLabelError,
    LabelGenerationSummary, generate_amodal_labels)
from mmdeocc.datasets.formats import READERS  # noqa: E402
from mmdeocc.utils.cli import load_tool_config  # noqa: E402
from mmdeocc.utils.distributed import (  # noqa: E402
    finish_job_distributed, init_job_distributed, resolve_job_device)

NONE = 'none'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate pseudo-amodal annotations (order + amodal '
        'masks) of a modal instance dataset with the de-occlusion core.')
    parser.add_argument(
        'config', help="config with `deoccluder = dict(...)` (and optionally "
        "the PCNet-M `model`), or 'none' for the default options")
    parser.add_argument(
        'checkpoint', help="PCNet-M checkpoint, or 'none' (geometric "
        'methods, gt)')
    parser.add_argument('--ann', required=True, help='input annotation file')
    parser.add_argument('--img-dir', default='',
                        help='image folder (optional; no image is read)')
    parser.add_argument('--out', required=True,
                        help='output amodal COCO file (.json); the amodal '
                        'view goes next to it (*_amodal_view.json)')
    parser.add_argument(
        '--method', default=None, choices=sorted(LABEL_METHODS),
        help="label method (default 'ours'): ours = PCNet-M ordering + "
        'ordering-grounded completion; ours_nog = NOG ablation; raw / '
        'convex / convexr = geometric baselines (convex ordering); gt = '
        'copy the annotated amodal masks and order')
    parser.add_argument('--format', dest='data_format', default='coco',
                        choices=sorted(READERS), help='input format')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='crops per network call (default: config, 64)')
    parser.add_argument('--chunk-size', type=int, default=32,
                        help='images per chunk = per batched core call and '
                        'per resumable part file')
    parser.add_argument('--fast', action='store_true',
                        help='fast, not bit-exact inference (fp16 on CUDA, '
                        'bf16 / folded BatchNorm on CPU)')
    parser.add_argument('--device', default=None,
                        help="'cpu', 'cuda', 'cuda:1' (default: cuda if "
                        'available, else cpu; under torchrun each rank '
                        'uses cuda:LOCAL_RANK)')
    parser.add_argument('--restart', action='store_true',
                        help='discard existing parts / outputs of OUT')
    parser.add_argument('--keep-parts', action='store_true',
                        help='keep OUT.parts/ after the merge')
    parser.add_argument('--eval', action='store_true',
                        help='log the amodal IoU / order accuracy of the '
                        "labels against the input's ground-truth amodal "
                        'masks (kins, cocoa, amodal_coco; costs time)')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. deoccluder.amodal_th=0.4')
    parser.add_argument('--launcher', choices=['none', 'pytorch'],
                        default='none', help='job launcher (torchrun: '
                        'pytorch; tools/dist_generate_amodal_labels.sh)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.chunk_size < 1:
        parser.error('--chunk-size must be >= 1')
    return args


def load_label_config(path: str,
                      cfg_options: Optional[Dict[str, Any]] = None
                      ) -> Dict[str, Any]:
    """Read the DeOccluder options and optional PCNet-M model config.

    Args:
        path (str): Config file or ``'none'``.
        cfg_options (dict, optional): Dotted overrides.

    Returns:
        dict: ``deoccluder`` (options dict) and ``model`` (dict or None).
    """
    cfg = load_tool_config(path, cfg_options, dict(deoccluder=dict()))
    deocc = cfg.get('deoccluder', None) or {}
    if not isinstance(deocc, dict):
        raise AmodalLabelError(
            f'{path}: `deoccluder` must be a dict of DeOccluder options, got '
            f'{type(deocc).__name__}')
    model = cfg.get('model', None)
    if model is not None and not isinstance(model, dict):
        raise AmodalLabelError(
            f'{path}: `model` must be a PCNet-M model config dict')
    return dict(deoccluder=Config(deocc).to_dict(),
                model=None if model is None else Config(model).to_dict())


def resolve_device(device: Optional[str], launcher: str) -> str:
    """The working device of this process
    (:func:`mmdeocc.utils.distributed.resolve_job_device`)."""
    return resolve_job_device(device, launcher, AmodalLabelError)


def init_distributed(launcher: str, device: str) -> None:
    """Start the process group
    (:func:`mmdeocc.utils.distributed.init_job_distributed`)."""
    init_job_distributed(launcher, device)


def build_label_deoccluder(method: str, label_cfg: Dict[str, Any],
                           checkpoint: str, device: str,
                           batch_size: Optional[int], fast: bool) -> Any:
    """The DeOccluder for ``method`` (None for ``'gt'``).

    Args:
        method (str): Label method.
        label_cfg (dict): :func:`load_label_config` output.
        checkpoint (str): PCNet-M checkpoint or ``'none'``.
        device (str): Working device.
        batch_size (int, optional): Crops per network call.
        fast (bool): Fast inference.

    Returns:
        DeOccluder | None: The de-occluder.
    """
    from mmdeocc.deocclusion import build_deoccluder
    preset = LABEL_METHODS[method]
    has_ckpt = checkpoint.lower() != NONE
    if preset is None:
        if has_ckpt:
            print_log(f"method 'gt' uses no network; ignoring {checkpoint}",
                      logger='current', level=logging.WARNING)
        return None
    opts = dict(label_cfg['deoccluder'])
    for key, value in zip(('order_method', 'amodal_method'), preset):
        if opts.get(key, value) != value:
            print_log(
                f'config deoccluder.{key}={opts[key]!r} is replaced by '
                f'{value!r} (method {method!r})', logger='current',
                level=logging.WARNING)
        opts[key] = value
    if batch_size is not None:
        opts['batch_size'] = batch_size
    opts['device'] = device
    opts['fast'] = bool(fast or opts.get('fast', False))
    if method in NETWORK_METHODS:
        if not has_ckpt:
            raise AmodalLabelError(
                f"method {method!r} needs a PCNet-M checkpoint, got 'none'")
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        opts['checkpoint'] = checkpoint
        if label_cfg['model'] is not None:
            opts['model'] = label_cfg['model']
    elif has_ckpt:
        print_log(f'method {method!r} uses no network; ignoring '
                  f'{checkpoint}', logger='current', level=logging.WARNING)
    return build_deoccluder(opts)


def main(argv: Optional[List[str]] = None) -> LabelGenerationSummary:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        LabelGenerationSummary: What was done (this rank's view).
    """
    args = parse_args(argv)
    label_cfg = load_label_config(args.config, args.cfg_options)
    method = args.method or 'ours'
    if args.img_dir and not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'--img-dir {args.img_dir} is not a folder')
    device = resolve_device(args.device, args.launcher)
    init_distributed(args.launcher, device)
    deoccluder = build_label_deoccluder(method, label_cfg, args.checkpoint,
                                        device, args.batch_size, args.fast)
    summary = generate_amodal_labels(
        args.ann,
        args.out,
        deoccluder=deoccluder,
        method=method,
        data_format=args.data_format,
        img_prefix=args.img_dir,
        chunk_size=args.chunk_size,
        restart=args.restart,
        keep_parts=args.keep_parts,
        progress=not args.no_progress,
        evaluate=args.eval)
    rank, world_size = get_dist_info()
    if summary.images_processed:
        print_log(
            f'rank {rank}/{world_size}: {summary.images_processed} images in '
            f'{summary.seconds:.1f} s = {summary.images_per_s:.2f} images/s '
            f'(device {device}, method {method})', logger='current')
    finish_job_distributed(args.launcher)
    return summary


def cli() -> int:
    """Entry point: known input / option errors become a one-line message
    and exit status 2 instead of a traceback."""
    from mmdeocc.datasets import AnnotationFormatError
    from mmdeocc.deocclusion import DeOcclusionConfigError
    from mmdeocc.models import PCNetMCheckpointError
    try:
        main()
    except (FileNotFoundError, AnnotationFormatError, AmodalLabelError,
            DeOcclusionConfigError, PCNetMCheckpointError) as err:
        print(f'generate_amodal_labels: error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(cli())
