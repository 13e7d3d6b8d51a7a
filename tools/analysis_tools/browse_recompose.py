"""Show what DeOcclusionRecompose does to training samples.

Builds the training dataset of CONFIG, runs its pipeline up to the
``DeOcclusionRecompose`` step and that step (forced to edit, ``prob=1``) on
a few samples, and writes a grid: the original, its instances, the
re-composed image and its new instances (masks, outlines, boxes).

Example (CONFIG =
configs/recompose/mask-rcnn_r18-w0.25_fpn_recompose_1xb4-800it_scenes-150.py)::

    python tools/analysis_tools/browse_recompose.py CONFIG \\
        --num 6 --seed 1 --out docs/recompose_grid.png
"""
import argparse
import copy
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Draw original vs re-composed training samples of a '
        'config whose train pipeline has DeOcclusionRecompose.')
    parser.add_argument('config', help='training config')
    parser.add_argument('--num', type=int, default=6, help='samples')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--scale', type=int, default=2,
                        help='enlargement of the pictures')
    parser.add_argument('--out', default='recompose_grid.png',
                        help='output picture')
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error('--num must be >= 1')
    return args


def _instances(results: dict) -> tuple:
    masks = results['gt_masks'].to_ndarray().astype(bool)
    boxes = results['gt_bboxes']
    boxes = boxes.numpy() if hasattr(boxes, 'numpy') else np.asarray(boxes)
    return masks, np.asarray(boxes, np.float32).reshape(-1, 4)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool."""
    import mmcv
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmdeocc  # noqa: F401  (registers the transform)
    from mmdeocc.datasets.transforms import DeOcclusionRecompose
    from mmdeocc.visualization import render_recompose_grid
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    steps = dataset.pipeline.transforms
    where = [k for k, t in enumerate(steps)
             if isinstance(t, DeOcclusionRecompose)]
    if not where:
        raise ValueError(f'{args.config}: the train pipeline has no '
                         'DeOcclusionRecompose step')
    before, recompose = steps[:where[0]], steps[where[0]]
    recompose.prob = 1.0
    rng = np.random.RandomState(args.seed)
    np.random.seed(args.seed)
    samples = []
    for index in rng.permutation(len(dataset))[:args.num].tolist():
        results = dataset.get_data_info(index)
        for step in before:
            results = step(results)
        original = copy.deepcopy(results)
        edited = recompose(results)
        masks, boxes = _instances(original)
        new_masks, new_boxes = _instances(edited)
        samples.append(dict(
            img=original['img'], masks=masks, boxes=boxes,
            new_img=edited['img'], new_masks=new_masks, new_boxes=new_boxes,
            caption=osp.basename(original['img_path'])))
    grid = render_recompose_grid(samples, scale=args.scale)
    mmcv.imwrite(grid, args.out)
    print(f'wrote {args.out} ({len(samples)} samples; fallbacks: '
          f'{dict(recompose.fallbacks) or "none"})')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
