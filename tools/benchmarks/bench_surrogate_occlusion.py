"""Throughput of the PCNet-M training-sample path (surrogate occlusion).

Measures single-process samples/s (= per DataLoader worker) of
``PCNetInstanceDataset`` + ``SurrogateOcclusion`` + ``PackPCNetInputs``
(tight-box mask cache, index-arithmetic crop-resize), cold (first pass,
masks decoded on first use) and warm, and of a straightforward path that
decodes both full-image masks for every sample, crops with zero padding,
resizes with ``cv2.INTER_NEAREST`` and builds a shifted full canvas for
every placement try.

Examples::

    python tools/benchmarks/bench_surrogate_occlusion.py \
        --ann data/coco128/annotations/instances_train2017.json --format coco
    python tools/benchmarks/bench_surrogate_occlusion.py --synthetic
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmdeocc.datasets import PCNetInstanceDataset  # noqa: E402
from mmdeocc.structures import square_crop_boxes  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ann', help='annotation file')
    parser.add_argument(
        '--format',
        default='coco',
        choices=['coco', 'cocoa', 'kins', 'amodal_coco'],
        help='annotation format of --ann')
    parser.add_argument(
        '--synthetic',
        action='store_true',
        help='generate a COCOA-format file of 640x480 images with ~5 objects '
        'each and benchmark on it')
    parser.add_argument(
        '--synthetic-images', type=int, default=200,
        help='images in the synthetic file')
    parser.add_argument('--num', type=int, default=3000,
                        help='samples per measurement')
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the full-mask-decode path')
    return parser.parse_args()


# --------------------------------------------------------------- synthetic
def _random_polygon(rng: np.random.Generator, width: int,
                    height: int) -> List[float]:
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    rx, ry = rng.uniform(25, 140), rng.uniform(25, 140)
    angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(10, 18)))
    jitter = rng.uniform(0.75, 1.0, angles.size)
    xs = np.clip(cx + rx * jitter * np.cos(angles), 0, width - 1)
    ys = np.clip(cy + ry * jitter * np.sin(angles), 0, height - 1)
    return np.stack([xs, ys], 1).ravel().round(2).tolist()


def make_synthetic_cocoa(path: str, num_images: int, seed: int = 0,
                         width: int = 640, height: int = 480) -> None:
    """Write a COCOA-format file: ``num_images`` images, 3-7 objects each.

    Objects are random star-convex polygons at random depths; modal masks
    are amodal masks minus nearer ones (``visible_mask`` only when
    occluded), with ``order`` and ``depth_constraint`` as in COCOA.

    Args:
        path (str): Output JSON path.
        num_images (int): Number of images.
        seed (int): Generator seed.
        width (int): Image width.
        height (int): Image height.
    """
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for img_id in range(1, num_images + 1):
        images.append(dict(id=img_id, file_name=f'synthetic_{img_id:06d}.jpg',
                           width=width, height=height))
        num = int(rng.integers(3, 8))
        polys = [_random_polygon(rng, width, height) for _ in range(num)]
        amodal = [
            mask_utils.decode(
                mask_utils.merge(mask_utils.frPyObjects([p], height,
                                                        width))).astype(bool)
            for p in polys
        ]  # regions listed nearest first (order = index + 1)
        regions, covered = [], np.zeros((height, width), bool)
        for k, (poly, mask) in enumerate(zip(polys, amodal)):
            visible = mask & ~covered
            region = dict(segmentation=poly, area=float(mask.sum()),
                          isStuff=0, name='thing', order=k + 1,
                          occlude_rate=float(1 - visible.sum() /
                                             max(mask.sum(), 1)))
            if (visible != mask).any():
                for key, m in (('visible_mask', visible),
                               ('invisible_mask', mask & ~visible)):
                    rle = mask_utils.encode(np.asfortranarray(
                        m.astype(np.uint8)))
                    region[key] = dict(size=[height, width],
                                       counts=rle['counts'].decode('ascii'))
            regions.append(region)
            covered |= mask
        pairs = [f'{i + 1}-{j + 1}' for i in range(num)
                 for j in range(i + 1, num) if (amodal[i] & amodal[j]).any()]
        anns.append(dict(image_id=img_id, id=img_id, regions=regions,
                         depth_constraint=','.join(pairs), size=num))
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns), f)


# ------------------------------------------------------- straightforward path
def _decode_full(info: Dict[str, Any]) -> np.ndarray:
    return mask_utils.decode(dict(size=[info['height'], info['width']],
                                  counts=info['counts']))


def _crop_full(mask: np.ndarray, bbox: np.ndarray, rng: np.random.Generator,
               size: int, shift: bool) -> np.ndarray:
    cx, cy, side = square_crop_boxes(bbox[None].astype(np.float64))[0]
    if shift:
        cx += rng.uniform(-0.2, 0.2) * side
        cy += rng.uniform(-0.2, 0.2) * side
    side /= rng.uniform(0.8, 1.2)
    side_i = max(int(side), 1)
    x0, y0 = int(cx - side_i / 2), int(cy - side_i / 2)
    h, w = mask.shape
    padded = np.zeros((side_i, side_i), np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side_i, w), min(y0 + side_i, h)
    if sx1 > sx0 and sy1 > sy0:
        padded[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = mask[sy0:sy1, sx0:sx1]
    out = cv2.resize(padded, (size, size), interpolation=cv2.INTER_NEAREST)
    if rng.random() < 0.5:
        out = np.fliplr(out)
    return out


def full_decode_sample(dataset: PCNetInstanceDataset, index: int,
                       rng: np.random.Generator, size: int) -> Dict:
    """One sample the straightforward way (full-image masks per sample)."""
    tinfo = dataset.get_data_info(index)
    einfo = dataset.get_data_info(int(rng.integers(len(dataset))))
    target = _crop_full(_decode_full(tinfo), np.array(tinfo['bbox']), rng,
                        size, shift=True)
    eraser = _crop_full(_decode_full(einfo), np.array(einfo['bbox']), rng,
                        size, shift=False)
    area = max(int(target.sum()), 1)
    for _ in range(100):
        overlap = rng.uniform(0.4, 1.0)
        offx = rng.uniform(overlap - 1, 1 - overlap)
        offy = (1 - overlap / (1 - abs(offx))) * rng.choice([-1, 1])
        dx, dy = int(-offx * size), int(-offy * size)
        shifted = np.zeros_like(eraser)
        ys, xs = slice(max(dy, 0), size + min(dy, 0)), slice(
            max(dx, 0), size + min(dx, 0))
        shifted[ys, xs] = eraser[max(-dy, 0):size + min(-dy, 0),
                                 max(-dx, 0):size + min(-dx, 0)]
        covered = (target & shifted).sum() / area
        if 0.001 <= covered < 0.9:
            break
    if rng.random() < 0.8:
        modal = target * (1 - shifted)
    else:
        shifted = shifted * (1 - target)
        modal = target
    inputs = torch.from_numpy(np.stack([modal, shifted]).astype(np.float32))
    return dict(inputs=inputs, data_samples=dict(
        target=torch.from_numpy(target.copy()),
        category_id=tinfo['category_id']))


# --------------------------------------------------------------- timing
def _time(fn, indices: List[int],
          chunks: int = 5) -> Tuple[float, float, float]:
    """Seconds per sample: wall clock overall, wall clock of the fastest of
    ``chunks`` equal chunks, and CPU time of this process overall (the last
    two are less sensitive to other processes on a shared machine)."""
    per_chunk = []
    bounds = np.linspace(0, len(indices), chunks + 1).astype(int)
    cpu_start = time.process_time()
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        start = time.perf_counter()
        for i in indices[lo:hi]:
            fn(i)
        per_chunk.append((time.perf_counter() - start, hi - lo))
    cpu = (time.process_time() - cpu_start) / len(indices)
    total = sum(t for t, _ in per_chunk) / len(indices)
    best = min(t / max(k, 1) for t, k in per_chunk)
    return total, best, cpu


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    tmpdir = None
    if args.synthetic:
        tmpdir = tempfile.TemporaryDirectory()
        ann, fmt = osp.join(tmpdir.name, 'COCO_amodal_synthetic.json'), \
            'cocoa'
        start = time.perf_counter()
        make_synthetic_cocoa(ann, args.synthetic_images, args.seed)
        print(f'synthetic COCOA file: {args.synthetic_images} images of '
              f'640x480 ({time.perf_counter() - start:.1f} s to write)')
    elif args.ann:
        ann, fmt = args.ann, args.format
    else:
        raise SystemExit('give --ann FILE [--format ...] or --synthetic')

    pipeline = [dict(type='SurrogateOcclusion', size=args.size),
                dict(type='PackPCNetInputs')]
    start = time.perf_counter()
    dataset = PCNetInstanceDataset(ann_file=ann, data_format=fmt,
                                   pipeline=pipeline, seed=args.seed)
    load_s = time.perf_counter() - start
    n = len(dataset)
    num_images = len({dataset.get_data_info(i)['img_id'] for i in range(n)})
    print(f'{ann} ({fmt}): {n} usable instances in {num_images} images '
          f'({n / max(num_images, 1):.1f} per image), loaded in '
          f'{load_s:.2f} s')

    rows = []
    num = args.num
    # cold: the first pass, each instance decoded on first use
    cold = list(range(min(num, n)))
    rows.append(('mmdeocc, cold cache (1st pass over instances)',
                 *_time(lambda i: dataset[i], cold)))
    for i in range(n):  # make sure every mask is cached
        dataset.get_instance(i)
    warm = [n + i % n for i in range(num)]
    rows.append(('mmdeocc, warm cache', *_time(lambda i: dataset[i], warm)))
    if not args.no_baseline:
        rng = np.random.default_rng(args.seed)
        rows.append(('full-mask decode per sample (straightforward)',
                     *_time(lambda i: full_decode_sample(
                         dataset, i % n, rng, args.size), list(range(num)))))
    print(f'\n{"path":<47} {"samples/s":>10} {"ms/sample":>10} '
          f'{"best-chunk/s":>13} {"per CPU-s":>10}')
    print('-' * 94)
    for name, secs, best, cpu in rows:
        print(f'{name:<47} {1 / secs:>10.0f} {1000 * secs:>10.3f} '
              f'{1 / best:>13.0f} {1 / cpu:>10.0f}')
    print(f'\nsingle process (= one DataLoader worker), size {args.size}, '
          f'{num} samples per row ({len(cold)} for the cold row); '
          f'best-chunk = fastest fifth; per CPU-s = samples per second of '
          f'this process\'s CPU time; cache: {len(dataset._cache)} masks, '
          f'{dataset._cache.nbytes / 2**20:.1f} MiB; load average '
          f'{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
    if tmpdir is not None:
        tmpdir.cleanup()


if __name__ == '__main__':
    main()
