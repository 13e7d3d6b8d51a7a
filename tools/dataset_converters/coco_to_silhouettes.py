"""Cut real object silhouettes out of a COCO instances file.

Each usable instance mask becomes ``OUT_DIR/<class>-<ann_id>.png``, the
format ``tools/make_occlusion_scenes.py --shapes`` reads, so occlusion
scenes with exact ground truth can be built from real object outlines.
By default only objects that look whole are kept (not cut by the image
border, not touching another instance, shorter side >= 32 px).

Example (the held-out COCO128 objects of docs/results.md)::

    python tools/dataset_converters/coco_to_silhouettes.py \\
        data/coco128/annotations/instances_train2017_holdout.json \\
        --out-dir data/shapes/coco128_holdout
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdeocc.datasets.synthesis.coco_silhouettes import \
    export_coco_silhouettes  # noqa: E402
from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default: ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write the instance masks of a COCO file as silhouette '
        'PNGs for tools/make_occlusion_scenes.py.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('ann_file', help='COCO instances JSON')
    parser.add_argument('--out-dir', required=True,
                        help='folder for <class>-<ann_id>.png')
    parser.add_argument('--min-side', type=int, default=32,
                        help='skip objects whose box is smaller on its '
                        'shorter side')
    parser.add_argument('--keep-touching', action='store_true',
                        help='also keep objects touching another instance')
    parser.add_argument('--keep-truncated', action='store_true',
                        help='also keep objects cut by the image border')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Export the silhouettes.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        int: Exit status (1 when nothing was written).
    """
    args = parse_args(argv)
    result = export_coco_silhouettes(
        args.ann_file, args.out_dir, min_side=args.min_side,
        isolated_only=not args.keep_touching,
        keep_truncated=args.keep_truncated)
    skipped = ', '.join(f'{n} {reason}'
                        for reason, n in sorted(result.skipped.items()))
    classes = {osp.basename(p).rsplit('-', 1)[0] for p in result.written}
    print(f'{len(result.written)} silhouettes ({len(classes)} classes) '
          f'written to {args.out_dir}; skipped: {skipped or "none"}')
    return 0 if result.written else 1


if __name__ == '__main__':
    sys.exit(run_tool(main))
