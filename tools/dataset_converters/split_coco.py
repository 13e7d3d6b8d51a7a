"""Split a COCO instances file by image (e.g. photos held out of training).

Writes ``OUT_DIR/<stem>_train.json`` (the kept images) and
``OUT_DIR/<stem>_holdout.json``; every annotation follows its image.
Deterministic under ``--seed``.

Example (the held-out COCO128 split of docs/results.md: the 4 demo photos
plus 20 drawn ones)::

    python tools/dataset_converters/split_coco.py \\
        data/coco128/annotations/instances_train2017.json \\
        --holdout-ids 9,312,438,612 --num-holdout 24 --seed 0 \\
        --out-dir data/coco128/annotations
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdeocc.datasets.annotation_utils import load_json  # noqa: E402
from mmdeocc.datasets.coco_split import split_coco_by_image  # noqa: E402
from mmdeocc.utils.cli import run_tool  # noqa: E402
from mmdeocc.utils.io import atomic_write_json  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default: ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Split a COCO instances file by image into a kept part '
        'and a held-out part.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('ann_file', help='COCO instances JSON')
    parser.add_argument('--holdout-ids', default='',
                        help='comma-separated image ids to hold out')
    parser.add_argument('--num-holdout', type=int, default=None,
                        help='total held-out images (named ids + random '
                        'others; default: the named ids only)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random draw')
    parser.add_argument('--out-dir', required=True,
                        help='folder of the two output files')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the two parts.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        int: Exit status.
    """
    args = parse_args(argv)
    try:
        ids = [int(i) for i in args.holdout_ids.split(',') if i.strip()]
    except ValueError as err:
        raise ValueError(f'--holdout-ids: not a list of integers '
                         f'({args.holdout_ids!r})') from err
    data = load_json(args.ann_file)
    kept, held = split_coco_by_image(
        data, ids, args.num_holdout, args.seed, source=args.ann_file)
    stem = osp.splitext(osp.basename(args.ann_file))[0]
    for part, name in ((kept, 'train'), (held, 'holdout')):
        path = osp.join(args.out_dir, f'{stem}_{name}.json')
        atomic_write_json(part, path)
        print(f'{path}: {len(part["images"])} images, '
              f'{len(part["annotations"])} annotations')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
