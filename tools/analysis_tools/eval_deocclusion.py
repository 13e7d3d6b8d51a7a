"""Evaluate de-occlusion methods on a dataset with amodal ground truth.

In one run, every requested method is evaluated on the same images with the
ground-truth *modal* masks as input (the paper's protocol, METHOD 4) and one
table in the layout of the paper's Tables 1 (ordering) and 2 (amodal
completion) is printed. The loop lives in
:mod:`mmdeocc.evaluation.deocclusion_evaluator`.

This is the paper-table benchmark (modal masks given, no detector); the
MMDetection test tool for detectors with de-occlusion attached is
``tools/test.py``. Generate the project's scene benchmark first (see the
README, "Evaluate").

Examples::

    # everything, with the committed PCNet-M and the supervised upper bound
    python tools/analysis_tools/eval_deocclusion.py \\
        configs/deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py \\
        checkpoints/pcnet_m_shapes.pth \\
        --sup-checkpoint checkpoints/pcnet_sup_shapes.pth \\
        --out results.json --out-md results.md

    # baselines only (no network)
    python tools/analysis_tools/eval_deocclusion.py \\
        configs/deocclusion/deocclusion-eval_pcnet-m_kins.py none \\
        --methods area_large,yaxis,convex,raw,convexr

    # annotated order as ground truth, first 100 images, fast inference
    python tools/analysis_tools/eval_deocclusion.py \\
        configs/deocclusion/deocclusion-eval_pcnet-m_kins.py ckpt.pth \\
        --gt-order annotation --max-images 100 --fast \\
        --cfg-options test_dataloader.dataset.ann_file=update_test_2020.json
"""
import argparse
import os.path as osp
import sys
from typing import Any, Dict, List, Optional

from mmengine.config import Config, DictAction

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdeocc.evaluation.deocclusion_evaluator import (  # noqa: E402
    EVAL_METHODS, SUP_ORDERS, DeOcclusionEvalError, parse_methods)
from mmdeocc.evaluation.from_config import evaluate_from_config  # noqa: E402
from mmdeocc.evaluation.metrics.occlusion_order_metric import \
    GT_SOURCES  # noqa: E402
from mmdeocc.evaluation.report import (format_markdown,  # noqa: E402
                                       save_results)
from mmdeocc.utils.cli import run_tool  # noqa: E402


def _methods_arg(value: str) -> List[str]:
    """argparse type of ``--methods``: a validated comma-separated list."""
    try:
        return parse_methods(value)
    except DeOcclusionEvalError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Evaluate de-occlusion (ordering + amodal completion) '
        'methods in one run and print the paper-style tables')
    parser.add_argument(
        'config', help='evaluation config (test_dataloader.dataset, '
        'deoccluder options, optional model), e.g. '
        'configs/deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py')
    parser.add_argument(
        'checkpoint', help="PCNet-M checkpoint, or 'none' when only "
        'baselines are evaluated')
    parser.add_argument(
        '--methods', type=_methods_arg, default=None,
        help='comma-separated methods (default: the config\'s '
        'deocc_eval.methods, else ours,ours_nog,area,yaxis,convex,raw,'
        f'convexr); choose from {",".join(EVAL_METHODS)}')
    parser.add_argument(
        '--sup-checkpoint', default=None,
        help='PCNet-Sup checkpoint (PCNet-M trained with ground-truth amodal '
        'masks, e.g. checkpoints/pcnet_sup_shapes.pth); adds the Supervised '
        'row')
    parser.add_argument(
        '--sup-order', choices=SUP_ORDERS, default=None,
        help="ordering whose ancestors form PCNet-Sup's eraser (default: "
        "the config's, else 'ours'; 'gt' = ground-truth order, an oracle)")
    parser.add_argument(
        '--gt-order', choices=GT_SOURCES, default=None,
        help="ground-truth order: 'masks' (derived from modal and amodal "
        "masks, the paper protocol; default) or 'annotation' (the "
        "dataset's annotated order)")
    parser.add_argument('--out', help='write the results as JSON')
    parser.add_argument('--out-md', help='write the tables as Markdown')
    parser.add_argument(
        '--fast', action='store_true',
        help='faster, not bit-exact network inference (fp16/bf16 autocast or '
        'folded BatchNorm; see DeOccluder)')
    parser.add_argument(
        '--batch-size', type=int, default=None,
        help="crops per network call (default: the config's deoccluder."
        'batch_size)')
    parser.add_argument(
        '--max-images', type=int, default=None,
        help='evaluate only the first N images')
    parser.add_argument(
        '--images-per-batch', type=int, default=8,
        help='images whose network crops are batched together (up to '
        '--batch-size crops per call; results do not depend on it)')
    parser.add_argument(
        '--device', default='auto',
        help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'deoccluder.amodal_th=0.5 test_dataloader.dataset.ann_file=x.json')
    args = parser.parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.max_images is not None and args.max_images < 1:
        parser.error('--max-images must be >= 1')
    if args.images_per_batch < 1:
        parser.error('--images-per-batch must be >= 1')
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Evaluate, print the tables and write the requested files.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        dict: The results (see
        :meth:`mmdeocc.evaluation.DeOcclusionEvaluator.compute`).
    """
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    results = evaluate_from_config(
        cfg,
        checkpoint=args.checkpoint,
        methods=args.methods,
        sup_checkpoint=args.sup_checkpoint,
        gt_order=args.gt_order,
        sup_order=args.sup_order,
        batch_size=args.batch_size,
        fast=True if args.fast else None,
        device=args.device,
        max_images=args.max_images,
        progress=not args.no_progress,
        images_per_batch=args.images_per_batch)
    results['config'] = args.config
    print(format_markdown(results))
    save_results(results, args.out, args.out_md)
    for path in (args.out, args.out_md):
        if path:
            print(f'written {path}')
    return results


if __name__ == '__main__':
    sys.exit(run_tool(main))
