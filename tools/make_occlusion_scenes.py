"""Generate synthetic occlusion scenes with exact amodal and order truth.

Silhouettes (``<class>-<n>.gif|png``) are composited at random positions,
scales, rotations and depth orders (rules: ``mmdeocc/datasets/
synthesis/scene.py``). Output: ``OUT/images/*.png`` and
``OUT/annotations.json`` in the project's amodal COCO format (default) or
the COCOA format. Deterministic under ``--seed``.

Examples::

    # small demo set from the in-repo silhouettes
    python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \\
        --out work_dirs/scenes/demo --num-scenes 20 --seed 0

    # benchmark with held-out classes (train without them, test on them)
    SHAPES=data/shapes/mpeg7_ce_shape1_partB  # the 50-class set (1,000 GIFs)
    HELD_OUT=apple,bell,bird,bottle,camel,cup,deer,elephant,hammer,key
    python tools/make_occlusion_scenes.py --shapes $SHAPES \\
        --out work_dirs/scenes/train --num-scenes 5000 --seed 0 \\
        --exclude-classes $HELD_OUT
    python tools/make_occlusion_scenes.py --shapes $SHAPES \\
        --out work_dirs/scenes/test --num-scenes 500 --seed 1 \\
        --classes $HELD_OUT

    # one-class scenes for the tiny class-agnostic detector
    python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \\
        --out data/scenes/tiny_det_val --num-scenes 50 --seed 11 \\
        --image-size 128 128 --objects-per-scene 2 4 --single-class object

    # the "two-object occlusion" scenes (one object partly covers another)
    python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \\
        --out work_dirs/scenes/pairs --num-scenes 50 --two-object \\
        --occlusion moderate
"""
import argparse
import dataclasses
import os.path as osp
import sys
from typing import List, Optional

import torch

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.datasets.synthesis import (FORMATS,  # noqa: E402
                                        OCCLUSION_LEVELS, TextureBank,
                                        generate_scenes, load_shapes)
from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default: ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate synthetic occlusion scenes (images + amodal '
        'COCO or COCOA annotations) with exact ground truth.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--shapes', required=True,
        help='folder of silhouettes named <class>-<n>.gif|png (e.g. '
        'data/shapes/mpeg7 or the full MPEG-7 CE-Shape-1 part B folder)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-scenes', type=int, required=True,
                        help='number of images')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--classes', default=None,
                        help='comma-separated classes to use (default: all)')
    parser.add_argument('--exclude-classes', default=None,
                        help='comma-separated classes to leave out')
    parser.add_argument('--objects-per-scene', type=int, nargs=2,
                        default=(3, 6), metavar=('MIN', 'MAX'),
                        help='inclusive range of objects per scene')
    parser.add_argument('--image-size', type=int, nargs=2, default=(256, 256),
                        metavar=('W', 'H'), help='image width and height')
    parser.add_argument(
        '--object-area', type=float, nargs=2, default=(0.02, 0.08),
        metavar=('MIN', 'MAX'),
        help='object area as a fraction of the image area')
    parser.add_argument(
        '--occlusion', default='mixed',
        choices=sorted(OCCLUSION_LEVELS) + ['mixed'],
        help='occlusion level: fraction of an object covered by others, '
        + ', '.join(f'{k}={v}' for k, v in sorted(OCCLUSION_LEVELS.items()))
        + '; mixed draws a level per scene')
    parser.add_argument(
        '--overlap-range', type=float, nargs=2, default=None,
        metavar=('LO', 'HI'), help='explicit overlap range (overrides '
        '--occlusion)')
    parser.add_argument('--textures', default=None,
                        help='folder of photos to cut object and background '
                        'textures from (default: flat colours)')
    parser.add_argument('--format', default='amodal_coco', choices=FORMATS,
                        help='annotation format')
    parser.add_argument(
        '--two-object', action='store_true',
        help='two-object scenes: one object partly covering another, both '
        'inside the image (overrides --objects-per-scene)')
    parser.add_argument('--no-truncation', action='store_true',
                        help='keep every object inside the image')
    parser.add_argument('--no-rotation', action='store_true',
                        help='do not rotate the silhouettes')
    parser.add_argument('--min-visible-pixels', type=int, default=20,
                        help='objects with fewer visible pixels are removed '
                        'before the scene is painted')
    parser.add_argument('--max-side', type=int, default=None,
                        help='downscale silhouettes on load so that their '
                        'longest side is at most this (faster loading)')
    parser.add_argument(
        '--single-class', default=None, metavar='NAME',
        help='annotate every object as one category NAME (e.g. object: '
        'class-agnostic detectors); the images are the same')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing dataset in --out')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    args = parser.parse_args(argv)
    if args.num_scenes < 1:
        parser.error('--num-scenes must be >= 1')
    lo, hi = args.objects_per_scene
    if not 1 <= lo <= hi:
        parser.error('--objects-per-scene needs 1 <= MIN <= MAX')
    if min(args.image_size) < 16:
        parser.error('--image-size must be at least 16 x 16')
    return args


def main(argv: Optional[List[str]] = None) -> str:
    """Generate the dataset.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        str: Path of the written annotation file.
    """
    args = parse_args(argv)
    # Only tiny torch ops run here (the touch test); extra intra-op threads
    # just contend with each other.
    torch.set_num_threads(1)
    shapes, categories = load_shapes(
        args.shapes, args.classes, args.exclude_classes, args.max_side)
    if args.single_class:
        shapes = [dataclasses.replace(s, category_id=1) for s in shapes]
        categories = [
            dict(id=1, name=args.single_class, supercategory='shape')
        ]
    textures = TextureBank(args.textures) if args.textures else None
    overlap = (tuple(args.overlap_range)
               if args.overlap_range is not None else args.occlusion)
    ann_path = generate_scenes(
        shapes,
        categories,
        args.out,
        args.num_scenes,
        seed=args.seed,
        fmt=args.format,
        textures=textures,
        overlap_range=overlap,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        info=dict(
            shapes=osp.basename(osp.normpath(args.shapes)),
            classes=sorted({s.class_name for s in shapes}),
            two_object=args.two_object),
        image_size=tuple(args.image_size),
        num_objects=tuple(args.objects_per_scene),
        area_range=tuple(args.object_area),
        rotate=not args.no_rotation,
        allow_truncation=not args.no_truncation,
        min_visible_pixels=args.min_visible_pixels,
        two_object=args.two_object)
    print(f'{args.num_scenes} scenes ({len(shapes)} silhouettes, '
          f'{len({s.class_name for s in shapes})} classes) written to '
          f'{args.out}; annotations: {ann_path}')
    return ann_path


if __name__ == '__main__':
    sys.exit(run_tool(main))
