"""Benchmark PCNet-M training iterations per second (real surrogate samples).

Builds batches with the real data pipeline (``PCNetInstanceDataset`` +
``SurrogateOcclusion`` on an annotation file), then times full training
steps (forward, weighted CE, backward, SGD step) for each width / crop size,
all in the same run, and prints a table::

    python tools/benchmarks/bench_pcnet_m_train.py \
        --ann data/coco128/annotations/instances_train2017.json \
        --widths 0.5,1,2 --sizes 128,256 --batch-size 8 --iters 5

``--precisions fp32,bf16,bf16-cl`` adds bf16 autocast (what
``tools/train.py --amp`` runs on a CPU with native bf16) and bf16 autocast
with channels-last weights and inputs, timed on the same batches.
"""
import argparse
import contextlib
import time
from typing import List

import torch
from mmengine.dataset import default_collate


def parse_args(argv=None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(
        description='PCNet-M training iterations per second')
    parser.add_argument(
        '--ann', default='data/coco128/annotations/instances_train2017.json',
        help='annotation file with modal masks')
    parser.add_argument('--format', default='coco',
                        help='coco | cocoa | kins | amodal_coco')
    parser.add_argument('--widths', default='0.5,1,2',
                        help='comma-separated UNet width multipliers')
    parser.add_argument('--sizes', default='128,256',
                        help='comma-separated crop sizes')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--iters', type=int, default=5,
                        help='timed iterations per setting (after 1 warm-up)')
    parser.add_argument('--device', default='auto',
                        help="'auto' (CUDA if available), 'cpu' or 'cuda'")
    parser.add_argument('--threads', type=int, default=0,
                        help='torch CPU threads (0 = leave as is)')
    parser.add_argument(
        '--precisions', default='fp32',
        help='comma-separated: fp32, bf16 (autocast), bf16-cl (autocast + '
        'channels-last)')
    return parser.parse_args(argv)


def make_batches(ann: str, data_format: str, size: int, batch_size: int,
                 count: int) -> List[dict]:
    """Build ``count`` collated training batches with the real pipeline."""
    from mmdeocc.datasets import PCNetInstanceDataset
    dataset = PCNetInstanceDataset(
        ann_file=ann, data_format=data_format, seed=0,
        pipeline=[dict(type='SurrogateOcclusion', size=size),
                  dict(type='PackPCNetInputs')])
    batches = []
    for b in range(count):
        items = [dataset[(b * batch_size + i) % len(dataset)]
                 for i in range(batch_size)]
        batches.append(default_collate(items))
    return batches


def time_training(width: float, size: int, batches: List[dict],
                  device: torch.device, precision: str = 'fp32') -> float:
    """Seconds per training iteration (mean over all but the first batch).

    Args:
        width (float): UNet width multiplier.
        size (int): Crop side.
        batches (list[dict]): Collated batches (the first one warms up).
        device (torch.device): Where to train.
        precision (str): ``'fp32'``, ``'bf16'`` (autocast) or ``'bf16-cl'``
            (autocast + channels-last).

    Returns:
        float: Mean seconds per iteration.
    """
    from mmdeocc.models import PCNetM
    if precision not in ('fp32', 'bf16', 'bf16-cl'):
        raise SystemExit(f'--precisions: unknown precision {precision!r}')
    channels_last = precision == 'bf16-cl'
    model = PCNetM(width=width, in_size=size).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    times = []
    for batch in batches:
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        data = model.data_preprocessor(batch, training=True)
        if channels_last:
            data['inputs'] = data['inputs'].contiguous(
                memory_format=torch.channels_last)
        autocast = (torch.autocast(device_type=device.type,
                                   dtype=torch.bfloat16)
                    if precision != 'fp32' else contextlib.nullcontext())
        with autocast:
            loss = model(**data, mode='loss')['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sum(times[1:]) / max(len(times) - 1, 1)


def main(argv=None) -> None:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    import mmdeocc  # noqa: F401  (registers the pipeline)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'auto':
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    else:
        device = torch.device(args.device)
    widths = [float(w) for w in args.widths.split(',')]
    sizes = [int(s) for s in args.sizes.split(',')]
    print(f'device={device} threads={torch.get_num_threads()} '
          f'batch={args.batch_size} iters={args.iters}')
    precisions = [p for p in args.precisions.split(',') if p]
    print('| width | crop | precision | s/iter | iter/s | samples/s | '
          f'vs {precisions[0]} |')
    print('|---|---|---|---|---|---|---|')
    for size in sizes:
        batches = make_batches(args.ann, args.format, size, args.batch_size,
                               args.iters + 1)
        for width in widths:
            first = None
            for precision in precisions:
                sec = time_training(width, size, batches, device, precision)
                if first is None:
                    first = sec
                print(f'| {width:g} | {size} | {precision} | {sec:.3f} | '
                      f'{1 / sec:.2f} | {args.batch_size / sec:.1f} | '
                      f'{first / sec:.2f}x |', flush=True)


if __name__ == '__main__':
    main()
