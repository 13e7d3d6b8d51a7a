"""PCNet-M training parity with the reference implementation, side by side.

Two checks, both against the authors' code (XiaohangZhan/deocclusion,
imported at run time from ``REF_SRC``; none of it is in this repository):

1. **One training step.** The same batch of surrogate-occlusion samples and
   the same UNet weights go through the reference's UNet and its
   ``MaskWeightedCrossEntropyLoss`` (train mode) and through mmdeocc's
   ``PCNetM`` loss with the reference recipe's ``inmask_weight`` (6) and
   with the paper's stated weight (5). Printed: both losses, the largest
   gradient difference relative to the largest gradient.
2. **The training sample distribution.** ``--samples`` samples of the
   reference's ``PartialCompDataset`` (its KINS/COCOA recipe: enlarge 3,
   shift +-0.2, scale 0.8-1.2, flip, overlap 0.4-1, covered 0.001-0.9, case 1
   with probability 0.8) and of mmdeocc's ``PCNetInstanceDataset`` with the
   reference pipeline (``configs/_base_/datasets/pcnet_m_instances_
   reference.py``) on the same COCOA-format file: share of samples whose
   input equals the target (case 2 or a failed placement), the covered
   fraction of the others, target and eraser areas, as quantiles side by
   side with the two-sample Kolmogorov-Smirnov statistic and its 1 %
   critical value.

The reference's data code needs ``cvbase`` and ``torchvision.transforms``,
which it only uses for reading JSON and RGB normalisation: both are replaced
by minimal stand-ins in this process.

Example::

    REF_SRC=/path/to/deocclusion python tools/benchmarks/\\
bench_ref_training_parity.py data/scenes/cocoa.json --samples 2000
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import types
from typing import Any, Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, osp.dirname(__file__))
sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..'))

from bench_ref_parity import (import_reference,  # noqa: E402
                              reference_net)
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import default_collate  # noqa: E402

from mmdeocc.datasets import PCNetInstanceDataset  # noqa: E402
from mmdeocc.models import PCNetM  # noqa: E402

ROOT = osp.join(osp.dirname(__file__), '..', '..')
REFERENCE_PIPELINE = osp.join(
    ROOT, 'configs', '_base_', 'datasets', 'pcnet_m_instances_reference.py')
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Compare PCNet-M training (one step, sample '
        'distribution) with the reference implementation (needs REF_SRC)',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('ann', help='COCOA-format annotation file')
    parser.add_argument('--input-size', type=int, default=256)
    parser.add_argument('--width', type=float, default=2.0,
                        help='UNet width of the one-step check')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--samples', type=int, default=2000,
                        help='samples per side for the distribution')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--json', default=None, help='write the report here')
    return parser.parse_args(argv)


def import_reference_data(ref_src: str) -> Any:
    """The reference's ``datasets.partial_comp_dataset`` module."""
    cvbase = types.ModuleType('cvbase')
    cvbase.load = lambda path: json.load(open(path))
    sys.modules.setdefault('cvbase', cvbase)
    if importlib.util.find_spec('torchvision') is None:
        vision = types.ModuleType('torchvision')
        vision.transforms = types.ModuleType('torchvision.transforms')
        sys.modules['torchvision'] = vision
        sys.modules['torchvision.transforms'] = vision.transforms
    package = types.ModuleType('ref_datasets')
    package.__path__ = [osp.join(ref_src, 'datasets')]
    sys.modules['ref_datasets'] = package
    for name in ('reader', 'partial_comp_dataset'):
        spec = importlib.util.spec_from_file_location(
            f'ref_datasets.{name}',
            osp.join(ref_src, 'datasets', f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[f'ref_datasets.{name}'] = module
        spec.loader.exec_module(module)
    return sys.modules['ref_datasets.partial_comp_dataset']


def import_reference_loss(ref_src: str) -> Any:
    """The reference's ``MaskWeightedCrossEntropyLoss`` class."""
    spec = importlib.util.spec_from_file_location(
        'ref_losses', osp.join(ref_src, 'models', 'losses.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MaskWeightedCrossEntropyLoss


def mmdeocc_dataset(ann: str, size: int, seed: int) -> PCNetInstanceDataset:
    """mmdeocc's instance dataset with the reference pipeline."""
    cfg = Config.fromfile(REFERENCE_PIPELINE)
    pipeline = cfg.train_pipeline
    pipeline[0]['size'] = size
    return PCNetInstanceDataset(ann_file=ann, data_format='cocoa',
                                pipeline=pipeline, seed=seed)


def one_step(args: argparse.Namespace, unet_module: Any, loss_cls: Any,
             dataset: PCNetInstanceDataset) -> Dict[str, Any]:
    """Loss and gradients of one training step on both sides."""
    batch = default_collate([dataset[i] for i in range(args.batch_size)])
    inputs, target = batch['inputs'], batch['data_samples']['target']
    out = {}
    for weight in (6.0, 5.0):
        torch.manual_seed(args.seed)  # the same weights for both rows
        model = PCNetM(width=args.width, in_size=args.input_size,
                       inmask_weight=weight).train()
        net = reference_net(unet_module, model).train()
        ref_loss = loss_cls(inmask_weight=5, outmask_weight=1)(
            net(inputs), target.long(), inputs[:, 1])
        ref_loss.backward()
        ours = model(inputs, batch['data_samples'], mode='loss')['loss']
        ours.backward()
        ref_grads = dict(net.named_parameters())
        worst = scale = 0.0
        for (ref_name, ours_name) in _param_pairs(model):
            g_ref = ref_grads[ref_name].grad
            g_ours = dict(model.named_parameters())[ours_name].grad
            worst = max(worst, float((g_ref - g_ours).abs().max()))
            scale = max(scale, float(g_ref.abs().max()))
        out[f'inmask_weight={weight:g}'] = dict(
            reference_loss=float(ref_loss.detach()),
            mmdeocc_loss=float(ours.detach()),
            max_grad_diff_rel=worst / max(scale, 1e-30))
    return out


def _param_pairs(model: PCNetM) -> List[tuple]:
    """(reference name, mmdeocc name) of every trainable parameter."""
    from mmdeocc.models.converters import pcnet_m_key_pairs
    params = dict(model.named_parameters())
    return [(ref, 'unet.' + ours) for ref, ours in pcnet_m_key_pairs()
            if 'unet.' + ours in params]


def _stats(inputs: np.ndarray, erasers: np.ndarray,
           targets: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-sample statistics of (input, eraser, target) stacks (binary)."""
    area = targets.reshape(len(targets), -1).sum(1)
    same = (inputs == targets).reshape(len(targets), -1).all(1)
    covered = ((targets & erasers).reshape(len(targets), -1).sum(1) /
               np.maximum(area, 1))
    size = targets[0].size
    return dict(input_equals_target=same,
                covered_fraction=covered[~same],
                target_area=area / size,
                eraser_area=erasers.reshape(len(targets), -1).sum(1) / size)


def reference_samples(module: Any, ann: str, size: int, count: int,
                      seed: int) -> Dict[str, np.ndarray]:
    """Statistics of ``count`` reference training samples."""
    config = dict(dataset='COCOA', train_annot_file=ann, load_rgb=False,
                  input_size=size, enlarge_box=3.0, eraser_front_prob=0.8,
                  eraser_setter=dict(min_overlap=0.4, max_overlap=1.0,
                                     min_cut_ratio=0.001, max_cut_ratio=0.9),
                  base_aug=dict(flip=True, shift=[-0.2, 0.2],
                                scale=[0.8, 1.2]))
    dataset = module.PartialCompDataset(config, 'train')
    np.random.seed(seed)
    inputs, erasers, targets = [], [], []
    for k in range(count):
        _, modal, eraser, target = dataset[k % len(dataset)]
        inputs.append(modal[0].numpy() > 0)
        erasers.append(eraser[0].numpy() > 0)
        targets.append(target.numpy() > 0)
    return _stats(np.stack(inputs), np.stack(erasers), np.stack(targets))


def mmdeocc_samples(dataset: PCNetInstanceDataset,
                    count: int) -> Dict[str, np.ndarray]:
    """Statistics of ``count`` mmdeocc training samples."""
    inputs, erasers, targets = [], [], []
    for k in range(count):
        item = dataset[k]  # k >= len: a fresh round of draws
        inputs.append(item['inputs'][0].numpy() > 0)
        erasers.append(item['inputs'][1].numpy() > 0)
        targets.append(item['data_samples']['target'].numpy() > 0)
    return _stats(np.stack(inputs), np.stack(erasers), np.stack(targets))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    values = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), values, side='right') / len(a)
    cdf_b = np.searchsorted(np.sort(b), values, side='right') / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def compare_distributions(ref: Dict[str, np.ndarray],
                          ours: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Quantiles and KS statistics of each statistic."""
    out = {}
    for key in ref:
        a, b = ref[key].astype(float), ours[key].astype(float)
        critical = 1.628 * np.sqrt((len(a) + len(b)) / (len(a) * len(b)))
        if key == 'input_equals_target':
            out[key] = dict(reference=float(a.mean()), mmdeocc=float(b.mean()),
                            ks=abs(float(a.mean() - b.mean())),
                            ks_critical_1pct=float(critical))
            continue
        out[key] = dict(
            reference=[float(q) for q in np.quantile(a, QUANTILES)],
            mmdeocc=[float(q) for q in np.quantile(b, QUANTILES)],
            ks=ks_statistic(a, b), ks_critical_1pct=float(critical))
    return out


def print_report(report: Dict[str, Any]) -> None:
    """Print both tables."""
    print(f"\nOne training step (batch {report['batch_size']}, crops "
          f"{report['input_size']}, width {report['width']:g}, train mode)")
    print('| mmdeocc loss weight | reference loss | mmdeocc loss | '
          'max |grad diff| / max |grad| |')
    print('|---|---|---|---|')
    for key, row in report['step'].items():
        print(f"| {key} | {row['reference_loss']:.6f} | "
              f"{row['mmdeocc_loss']:.6f} | {row['max_grad_diff_rel']:.2e} |")
    print(f"\nTraining samples ({report['samples']} per side; quantiles "
          f'{QUANTILES})')
    print('| statistic | reference | mmdeocc | KS | KS 1% critical |')
    print('|---|---|---|---|---|')
    for key, row in report['distribution'].items():
        if isinstance(row['reference'], float):
            ref, ours = f"{row['reference']:.3f}", f"{row['mmdeocc']:.3f}"
        else:
            ref = ' '.join(f'{v:.3f}' for v in row['reference'])
            ours = ' '.join(f'{v:.3f}' for v in row['mmdeocc'])
        print(f"| {key} | {ref} | {ours} | {row['ks']:.3f} | "
              f"{row['ks_critical_1pct']:.3f} |")


def main(argv: Optional[List[str]] = None) -> int:
    """Run both checks and print the tables."""
    args = parse_args(argv)
    ref_src = os.environ.get('REF_SRC')
    if not ref_src:
        print('bench_ref_training_parity: skipped: set REF_SRC to a local '
              "copy of the reference's source tree")
        return 0
    torch.set_num_threads(args.threads)
    _, unet_module = import_reference(ref_src)
    loss_cls = import_reference_loss(ref_src)
    data_module = import_reference_data(ref_src)
    dataset = mmdeocc_dataset(args.ann, args.input_size, args.seed)
    report = dict(batch_size=args.batch_size, input_size=args.input_size,
                  width=args.width, samples=args.samples)
    report['step'] = one_step(args, unet_module, loss_cls, dataset)
    ref = reference_samples(data_module, args.ann, args.input_size,
                            args.samples, args.seed)
    ours = mmdeocc_samples(dataset, args.samples)
    report['distribution'] = compare_distributions(ref, ours)
    print_report(report)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
