"""Benchmark: a short PCNet-C training on real photos lowers the hole L1 on
held-out crops.

Trains ``configs/pcnet_c_coco128_cpu.py`` (model, optimisers, pipeline) on
the surrogate-occlusion samples of some photos of ``demo/annotations.json``
(4 COCO train2017 photos with their COCO masks) and measures, every
``--eval-every`` steps, the L1 error inside the hole on fixed crops of a
held-out photo (never trained on). The error is the mean absolute
difference between the generator output and the true pixels over the hole
pixels, in 0-255 RGB units. Two references are printed with it: the random
initialisation and "fill with the mean visible colour of the crop".

Example (the numbers in docs/benchmarks.md)::

    OMP_NUM_THREADS=1 python tools/benchmarks/bench_pcnet_c_train.py \\
        --steps 60 --batch-size 4 --held-out 438

With ``--checkpoint`` nothing is trained: the given PCNet-C is evaluated
on crops of every image of ``--ann-file`` (no photo is held out, so for a
checkpoint trained on those photos this measures fitting, on new random
occlusions), e.g. the committed demo model (docs/results.md)::

    OMP_NUM_THREADS=1 python tools/benchmarks/bench_pcnet_c_train.py \\
        --checkpoint checkpoints/pcnet_c_w025_coco128.pth --eval-crops 64
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default='configs/pcnet_c_coco128_cpu.py')
    parser.add_argument('--ann-file', default='demo/annotations.json')
    parser.add_argument('--img-dir', default='demo/images')
    parser.add_argument('--held-out', type=int, default=438,
                        help='image id of the held-out photo')
    parser.add_argument('--steps', type=int, default=60)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--eval-every', type=int, default=20)
    parser.add_argument('--eval-crops', type=int, default=16)
    parser.add_argument('--size', type=int, default=None,
                        help='crop side (default 128, or the in_size of '
                        '--checkpoint)')
    parser.add_argument('--lr', type=float, default=None,
                        help='generator lr (default: the config\'s)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write results as JSON')
    parser.add_argument(
        '--checkpoint', default=None,
        help='evaluate this PCNet-C checkpoint instead of training (crops '
        'of every image of --ann-file; --size defaults to its in_size)')
    return parser.parse_args(argv)


def split_annotations(ann_file: str, held_out: int, folder: str) -> tuple:
    """Write train / held-out annotation files (by image id)."""
    with open(ann_file) as f:
        data = json.load(f)
    ids = {img['id'] for img in data['images']}
    if held_out not in ids:
        raise ValueError(f'--held-out {held_out} is not an image id of '
                         f'{ann_file} ({sorted(ids)})')
    paths = []
    for keep in (lambda i: i != held_out, lambda i: i == held_out):
        part = dict(data)
        part['images'] = [im for im in data['images'] if keep(im['id'])]
        part['annotations'] = [
            a for a in data['annotations'] if keep(a['image_id'])
        ]
        path = osp.join(folder, f'part{len(paths)}.json')
        with open(path, 'w') as f:
            json.dump(part, f)
        paths.append(path)
    return tuple(paths)


def hole_l1(model, batch: Dict) -> Dict[str, float]:
    """Hole L1 (0-255 units) of the generator and of the mean-colour fill.

    ``l1``: the model in eval mode (BatchNorm running statistics, as at
    inference). ``l1_batch_stats``: BatchNorm with the statistics of the
    held-out batch (a copy of the model; early in a training from scratch
    the running statistics lag behind the weights).
    """
    import copy

    from mmdeocc.datasets.transforms.pcnet_c_inputs import IMAGENET_STD
    std = torch.from_numpy(IMAGENET_STD).view(1, 3, 1, 1)
    rgb = batch['inputs']
    hole = batch['data_samples']['hole'].float()[:, None]
    visible = 1 - hole
    denom = 3 * hole.sum()
    result = {}
    for name, net in (('l1', model.eval()),
                      ('l1_batch_stats', copy.deepcopy(model).train())):
        with torch.no_grad():
            out = net(batch['inputs'], batch['data_samples'], mode='tensor')
        result[name] = float(((out - rgb).abs() * std * hole).sum() / denom)
    mean_fill = (rgb * visible).sum((2, 3), keepdim=True) / visible.sum(
        (2, 3), keepdim=True).clamp(min=1)
    result['mean_fill_l1'] = float(
        ((mean_fill - rgb).abs() * std * hole).sum() / denom)
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    import mmdeocc  # noqa: F401
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from mmdet.registry import DATASETS, MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(args.config)
    trained = None
    if args.checkpoint is not None:
        from mmdeocc.models import load_pcnet_c
        trained = load_pcnet_c(args.checkpoint)
    if args.size is None:
        args.size = trained.in_size if trained is not None else 128
    tmp = tempfile.mkdtemp(prefix='bench_pcnet_c_')
    train_ann, held_ann = split_annotations(args.ann_file, args.held_out, tmp)
    if trained is not None:
        held_ann = args.ann_file  # evaluation only: every image
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[0]['size'] = args.size

    def dataset(ann: str, seed: int):
        ds_cfg = dict(cfg.train_dataloader.dataset)
        ds_cfg.update(ann_file=ann, data_prefix=dict(img=args.img_dir),
                      seed=seed, pipeline=pipeline)
        return DATASETS.build(ds_cfg)

    train_set = dataset(train_ann, args.seed)
    held_set = dataset(held_ann, 1000 + args.seed)
    held = default_collate([
        held_set[i * 7919 % (10 * len(held_set))]
        for i in range(args.eval_crops)
    ])
    if trained is not None:
        res = hole_l1(trained, held)
        print(f'{args.checkpoint}: hole L1 {res["l1"]:.2f} on '
              f'{args.eval_crops} crops of {args.ann_file} (mean-colour fill '
              f'{res["mean_fill_l1"]:.2f}; 0-255 RGB units)')
        print(json.dumps(dict(checkpoint=args.checkpoint, size=args.size,
                              eval_crops=args.eval_crops, **res)))
        return
    if args.lr is not None:
        cfg.optim_wrapper.generator.optimizer.lr = args.lr
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    rng = np.random.default_rng(args.seed)
    history: List[Dict] = []
    start = time.perf_counter()
    train_time = 0.0
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            res = hole_l1(model, held)
            res['step'] = step
            history.append(res)
            print(f'step {step:4d}: held-out hole L1 {res["l1"]:.2f} '
                  f'(batch BN statistics {res["l1_batch_stats"]:.2f}) '
                  f'(mean-colour fill {res["mean_fill_l1"]:.2f}) '
                  f'[{time.perf_counter() - start:.0f} s]', flush=True)
        if step == args.steps:
            break
        idx = rng.integers(0, 10**6, args.batch_size)
        batch = default_collate([train_set[int(i)] for i in idx])
        model.train()
        tic = time.perf_counter()
        logs = model.train_step(batch, optim)
        train_time += time.perf_counter() - tic
        if step % 10 == 0:
            print('  ' + ' '.join(f'{k}={float(v.detach()):.3f}'
                                  for k, v in logs.items()), flush=True)
    steps = {
        name: int(w.optimizer.state[next(iter(
            w.optimizer.state))]['step']) if w.optimizer.state else 0
        for name, w in optim.items()
    }
    summary = dict(
        config=args.config, size=args.size, batch_size=args.batch_size,
        steps=args.steps, threads=args.threads, held_out=args.held_out,
        train_s_per_step=train_time / max(args.steps, 1),
        optimiser_steps=steps, history=history)
    print(json.dumps(summary))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
