"""Benchmark the de-occlusion inference core (ordering + OG amodal).

For synthetic scenes with 2, 5, 10, 20, 50 objects (random ellipses and
rectangles painted in depth order on a 480 x 640 canvas, so modal masks are
disjoint and many touch) it measures, in the same run and on the same
PCNet-M (random weights, or a trained one with ``--checkpoint``):

* the sequential reference (one network call per crop, numpy/OpenCV),
* the batched core in fp32 ("exact") - and checks it equals the reference,
* the batched core in fast mode (bf16/fp16 autocast + channels-last) and its
  agreement with exact mode (order entries, amodal pixels),
* the non-network overhead of the batched core as a share of network time
  and of the total time,
* the peak memory of the batched exact run (CPU: RSS above the pre-run
  level, sampled every 2 ms; CUDA: ``torch.cuda.max_memory_allocated``).

Example::

    python tools/benchmarks/bench_deocclusion.py --width 2 --objects 2,5,10,20
    python tools/benchmarks/bench_deocclusion.py \
        --checkpoint checkpoints/pcnet_m_shapes.pth --threads 1
"""
import argparse
import copy
import json
import os
import platform
import sys
import threading
import time
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..'))

from mmdeocc.deocclusion import DeOccluder  # noqa: E402
from mmdeocc.deocclusion.reference import (  # noqa: E402
    reference_amodal, reference_order)
from mmdeocc.models import PCNetM, load_pcnet_m  # noqa: E402
from mmdeocc.structures import touching_pairs  # noqa: E402


def make_scene(num: int, height: int, width: int, seed: int) -> np.ndarray:
    """Random shapes painted back to front: disjoint modal masks.

    Object sizes shrink with the object count so that the canvas stays
    populated but not saturated; nearer objects cut farther ones.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    scale = np.sqrt(height * width / max(num, 1)) * 0.6
    full = np.zeros((num, height, width), dtype=bool)
    for k in range(num):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(0.4, 1.0, 2) * scale
        if rng.random() < 0.5:
            full[k] = ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1
        else:
            full[k] = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
    modal = full.copy()
    for k in range(num):
        modal[k] &= ~full[k + 1:].any(0)
    return modal


class PeakMemory:
    """Peak memory above the level at entry (RSS sampling or CUDA stats)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss() - self.base)
            time.sleep(0.002)

    def __enter__(self) -> 'PeakMemory':
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            self.base = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(
                self.device) - self.base
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss() - self.base)


def timed(fn, repeats: int):
    """Best wall time of ``repeats`` calls and the last result."""
    best, result = float('inf'), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def build_model(args: argparse.Namespace) -> PCNetM:
    """The benchmarked PCNet-M: a checkpoint's or random weights.

    With ``--checkpoint`` the width and input side come from the file (and
    ``args.width`` / ``args.size`` are updated); otherwise a PCNet-M of
    ``args.width`` / ``args.size`` gets PyTorch's default conv init
    re-applied (random but non-degenerate; the reference init is almost
    constant).

    Args:
        args (argparse.Namespace): The parsed options.

    Returns:
        PCNetM: The model in eval mode, on the CPU.
    """
    if args.checkpoint:
        model = load_pcnet_m(args.checkpoint)
        args.width = getattr(model, 'width', args.width)
        args.size = int(model.in_size)
        return model.eval()
    model = PCNetM(width=args.width, in_size=args.size).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.reset_parameters()
    return model


def run(args: argparse.Namespace, model: PCNetM) -> List[Dict]:
    """Run every scene size and return one row per size.

    Args:
        args (argparse.Namespace): The parsed options.
        model (PCNetM): The benchmarked model (:func:`build_model`).

    Returns:
        list[dict]: One row per object count.
    """
    device = torch.device(args.device)
    model.to(device)
    fast_model = copy.deepcopy(model)
    cpu_batch = args.cpu_batch_size or None
    exact = DeOccluder(
        model,
        batch_size=args.batch_size,
        device=device,
        cpu_batch_size=cpu_batch)
    fast = DeOccluder(
        fast_model,
        batch_size=args.batch_size,
        device=device,
        fast=True,
        cpu_batch_size=cpu_batch)
    if device.type == 'cpu':
        print(f'# CPU network sub-batch: {exact._cpu_sub_batch()}')
    height, width = args.image_size
    # Warm-up (allocators, oneDNN primitive caches).
    warm = make_scene(3, height, width, seed=99)
    exact(warm)
    fast(warm)
    rows = []
    for num in args.objects:
        masks = make_scene(num, height, width, seed=num)
        pairs = int(
            torch.triu(touching_pairs(torch.from_numpy(masks)), 1).sum())
        row = dict(objects=num, pairs=pairs, crops=2 * pairs + num)
        if num <= args.sequential_max:

            def sequential():
                order = reference_order(model, masks, size=args.size)
                amodal = reference_amodal(model, masks, order, size=args.size)
                return order, amodal

            row['sequential_s'], (seq_order,
                                  seq_amodal) = timed(sequential, args.repeats)
        with PeakMemory(device) as mem:
            row['exact_s'], res_exact = timed(lambda: exact(masks),
                                              args.repeats)
        row['peak_mem_mb'] = mem.peak / 2**20
        stats = dict(exact.stats)
        row['network_s'] = stats['network_s']
        outside = stats['total_s'] - stats['network_s']
        row['overhead_pct'] = 100.0 * outside / max(stats['network_s'], 1e-9)
        row['outside_share_pct'] = 100.0 * outside / max(
            stats['total_s'], 1e-9)
        row['fast_s'], res_fast = timed(lambda: fast(masks), args.repeats)
        row['crops_per_s'] = row['crops'] / max(row['fast_s'], 1e-9)
        if 'sequential_s' in row:
            row['exact_speedup'] = row['sequential_s'] / row['exact_s']
            row['fast_speedup'] = row['sequential_s'] / row['fast_s']
        if 'sequential_s' in row:
            row['equal_to_sequential'] = bool(
                np.array_equal(res_exact.order.numpy(), seq_order)
                and np.array_equal(res_exact.amodal_masks.numpy(), seq_amodal))
        order_e, order_f = res_exact.order.cpu(), res_fast.order.cpu()
        row['fast_order_agree_pct'] = 100.0 * float(
            (order_e == order_f).float().mean()) if num else 100.0
        amodal_e = res_exact.amodal_masks.cpu()
        amodal_f = res_fast.amodal_masks.cpu()
        row['fast_amodal_agree_pct'] = 100.0 * float(
            (amodal_e == amodal_f).float().mean()) if num else 100.0
        union = (amodal_e | amodal_f).sum()
        row['fast_amodal_iou_pct'] = 100.0 * float(
            (amodal_e & amodal_f).sum()) / max(int(union), 1)
        if args.images_per_call > 1:
            many = [
                make_scene(num, height, width, seed=num * 1000 + k)
                for k in range(args.images_per_call)
            ]
            row['loop_s'], _ = timed(lambda: [exact(m) for m in many],
                                     args.repeats)
            row['many_s'], _ = timed(lambda: exact.run_many(many),
                                     args.repeats)
            row['many_speedup'] = row['loop_s'] / row['many_s']
            row['loop_s'] /= len(many)
            row['many_s'] /= len(many)
        rows.append(row)
        print_row(row, header=len(rows) == 1)
    return rows


COLUMNS = [
    ('objects', 'N', '{:d}'),
    ('pairs', 'pairs', '{:d}'),
    ('crops', 'crops', '{:d}'),
    ('sequential_s', 'seq s/img', '{:.2f}'),
    ('exact_s', 'batched fp32 s/img', '{:.2f}'),
    ('fast_s', 'batched fast s/img', '{:.2f}'),
    ('exact_speedup', 'fp32 / seq x', '{:.2f}'),
    ('fast_speedup', 'fast / seq x', '{:.2f}'),
    ('crops_per_s', 'fast crops/s', '{:.0f}'),
    ('network_s', 'network s/img', '{:.2f}'),
    ('overhead_pct', 'non-net overhead %', '{:.1f}'),
    ('outside_share_pct', 'outside-net share %', '{:.1f}'),
    ('peak_mem_mb', 'peak MB', '{:.0f}'),
    ('loop_s', 'per-image loop s/img', '{:.3f}'),
    ('many_s', 'run_many s/img', '{:.3f}'),
    ('many_speedup', 'run_many / loop x', '{:.2f}'),
    ('equal_to_sequential', 'fp32 == seq', '{}'),
    ('fast_order_agree_pct', 'fast order agree %', '{:.2f}'),
    ('fast_amodal_agree_pct', 'fast amodal px agree %', '{:.3f}'),
    ('fast_amodal_iou_pct', 'fast/fp32 amodal IoU %', '{:.2f}'),
]


def print_row(row: Dict, header: bool = False) -> None:
    """Print one markdown table row (and the header first)."""
    if header:
        print('| ' + ' | '.join(c[1] for c in COLUMNS) + ' |')
        print('|' + '---|' * len(COLUMNS))
    cells = []
    for key, _, fmt in COLUMNS:
        value = row.get(key)
        cells.append('-' if value is None else fmt.format(value))
    print('| ' + ' | '.join(cells) + ' |', flush=True)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--width',
        type=float,
        default=2.0,
        help='PCNet-M width (2 = reference)')
    parser.add_argument(
        '--checkpoint',
        default=None,
        help='PCNet-M checkpoint to load (its width and input side '
        'override --width / --size)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--objects',
        default='2,5,10,20,50',
        help='comma-separated object counts')
    parser.add_argument(
        '--repeats',
        type=int,
        default=1,
        help='timed repeats per configuration (best kept)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument(
        '--cpu-batch-size',
        type=int,
        default=0,
        help='CPU network sub-batch (0 = the DeOccluder default)')
    parser.add_argument(
        '--size', type=int, default=256, help='network input side')
    parser.add_argument(
        '--image-size', default='480x640', help='HxW of the synthetic scenes')
    parser.add_argument(
        '--sequential-max',
        type=int,
        default=1000,
        help='skip the sequential reference above this N')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch intra-op threads (default: torch)')
    parser.add_argument(
        '--images-per-call',
        type=int,
        default=1,
        help='also time K images of each size in one batched run_many '
        'call against a per-image loop (exact mode; 1 = skip)')
    parser.add_argument('--out', default=None, help='write rows as JSON')
    args = parser.parse_args()
    args.objects = [int(v) for v in args.objects.split(',') if v]
    args.image_size = tuple(int(v) for v in args.image_size.split('x'))
    return args


def main() -> None:
    """Entry point."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(args)
    print(f'# machine: {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} CPUs, torch {torch.__version__} '
          f'({torch.backends.cpu.get_cpu_capability()}), '
          f'{torch.get_num_threads()} threads; device {args.device}; '
          f'checkpoint {args.checkpoint or "none (random weights)"}; '
          f'width {args.width}; input {args.size}; batch {args.batch_size} '
          f'(CPU sub-batch {args.cpu_batch_size or "auto"}); '
          f'image {args.image_size[0]}x{args.image_size[1]}; '
          f'repeats {args.repeats}')
    start = time.perf_counter()
    rows = run(args, model)
    print(f'# total {time.perf_counter() - start:.0f} s')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
