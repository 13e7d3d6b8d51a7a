"""Parity of mmdeocc with the reference implementation, side by side.

Runs the authors' inference functions (XiaohangZhan/deocclusion, imported at
run time from a local copy of its source tree named by ``REF_SRC``; none of
its code is in this repository) and mmdeocc's :class:`DeOccluder` on the
same modal masks with the same PCNet-M weights, in one process, and prints:

* per output (dual-completion order, OG and NOG amodal masks, the area,
  y-axis and convex orders, Convex and Convex^R masks): images identical,
  differing order entries, identical instance masks, minimum instance IoU;
* both sides' metrics (occluded-pair ordering accuracy against the
  reference's ground-truth order, pooled amodal IoU against the ground-truth
  amodal masks) and both sides' times.

Settings are the reference evaluation's: order threshold 0.1 (nearest
resize), amodal threshold 0.2 (bilinear), crop enlargement 3, no eraser
dilation, category 1, regions with an empty visible mask skipped.

``--save-golden OUT.npz`` writes the reference's outputs for the first
``--golden-images`` images: the golden files the test
``tests/deocclusion/test_reference_golden.py`` checks mmdeocc against.

Without ``REF_SRC`` the script prints how to get the reference and exits 0.
The reference also needs scikit-image (``pip install --target DEPS
scikit-image`` and ``PYTHONPATH=DEPS`` for this run only).

Example::

    REF_SRC=/path/to/deocclusion PYTHONPATH=/path/to/deps \\
    python tools/benchmarks/bench_ref_parity.py data/scenes/cocoa.json \\
        --checkpoint checkpoints/pcnet_m_shapes.pth --threads 1
"""
import argparse
import hashlib
import importlib.util
import json
import os
import os.path as osp
import platform
import sys
import time
import types
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..'))

from mmdeocc.datasets import load_annotations  # noqa: E402
from mmdeocc.deocclusion import DeOccluder  # noqa: E402
from mmdeocc.models import PCNetM, load_pcnet_m  # noqa: E402
from mmdeocc.models.converters import mmdeocc_to_reference_pcnet_m  # noqa
from mmdeocc.structures import decode_rle  # noqa: E402

#: UNet width -> the reference's constructor name.
REF_ARCHS = {0.25: 'unet025', 0.5: 'unet05', 1.0: 'unet1', 2.0: 'unet2',
             4.0: 'unet4'}
ORDER_KINDS = ('ours', 'area', 'yaxis', 'convex')
MASK_KINDS = ('amodal_og', 'amodal_nog', 'amodal_convex', 'amodal_convexr')
REF_SETTINGS = dict(order_th=0.1, amodal_th=0.2, enlarge_box=3.0,
                    min_side_ratio=1.1)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Compare mmdeocc exact (or fast) mode with the reference '
        'implementation on the same masks and weights (needs REF_SRC)',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('ann', help='annotation file (modal masks; GT '
                        'amodal masks if the format has them)')
    parser.add_argument('--format', default='cocoa',
                        choices=['cocoa', 'amodal_coco', 'kins', 'coco'],
                        help='annotation format')
    parser.add_argument('--checkpoint', default=None,
                        help='mmdeocc PCNet-M checkpoint (default: a seeded '
                        'random UNet with random BatchNorm statistics)')
    parser.add_argument('--width', type=float, default=2.0,
                        help='UNet width of the random model')
    parser.add_argument('--input-size', type=int, default=None,
                        help='crop side (default: the model\'s in_size)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random model')
    parser.add_argument('--limit', type=int, default=0,
                        help='first N images only (0 = all)')
    parser.add_argument('--fast', action='store_true',
                        help='compare mmdeocc fast mode instead of exact')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads (both sides)')
    parser.add_argument('--save-golden', default=None,
                        help='write the reference outputs of the first '
                        '--golden-images images to this npz')
    parser.add_argument('--golden-images', type=int, default=10)
    parser.add_argument('--json', default=None, help='write the report here')
    return parser.parse_args(argv)


# ---------------------------------------------------------------- reference
def import_reference(ref_src: str) -> Tuple[Any, Any]:
    """Import the reference's ``inference`` module and UNet family.

    The reference hard-codes ``.cuda()`` and uses numpy aliases removed in
    numpy 1.24; both are patched in this process only.

    Args:
        ref_src (str): Root of the reference source tree.

    Returns:
        tuple: ``(inference module, unet_model module)``.
    """
    if not osp.isfile(osp.join(ref_src, 'inference.py')):
        raise SystemExit(f'bench_ref_parity: error: REF_SRC={ref_src} has no '
                         'inference.py (export the reference .py files there)')
    sys.path.insert(0, ref_src)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    for alias, value in (('int', int), ('bool', bool), ('float', float)):
        if not hasattr(np, alias):
            setattr(np, alias, value)
    import inference  # noqa: F401  (the reference's)
    package = types.ModuleType('ref_unet')
    unet_dir = osp.join(ref_src, 'models', 'backbone', 'unet')
    package.__path__ = [unet_dir]
    sys.modules['ref_unet'] = package
    for name in ('unet_parts', 'unet_model'):
        spec = importlib.util.spec_from_file_location(
            f'ref_unet.{name}', osp.join(unet_dir, f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[f'ref_unet.{name}'] = module
        spec.loader.exec_module(module)
    return sys.modules['inference'], sys.modules['ref_unet.unet_model']


class _RefModel:
    """What the reference's ``net_forward`` expects: ``model.model(x)``."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.model = net


def reference_boxes(modal: np.ndarray) -> np.ndarray:
    """The reference evaluation's crop windows ``[x0, y0, side, side]``.

    Written from METHOD 1.3 in the reference's rounding (float side; the
    corner from the float side, then the side truncated).
    """
    out = []
    for mask in modal:
        ys, xs = np.nonzero(mask)
        x, y = xs.min(), ys.min()
        w, h = xs.max() - x + 1, ys.max() - y + 1
        cx, cy = x + w / 2.0, y + h / 2.0
        side = max(np.sqrt(w * h * 3.0), w * 1.1, h * 1.1)
        out.append([int(cx - side / 2.0), int(cy - side / 2.0), int(side),
                    int(side)])
    return np.array(out)


def run_reference(ref: Any, net: torch.nn.Module, modal: np.ndarray,
                  input_size: int) -> Tuple[Dict[str, np.ndarray], float]:
    """The reference's outputs for one image and its network-method time."""
    model = _RefModel(net)
    h, w = modal.shape[1:]
    image = np.zeros((h, w, 3), dtype=np.uint8)  # unused (use_rgb=False)
    cat = np.ones(len(modal), dtype=np.int64)
    boxes = reference_boxes(modal)
    common = dict(use_rgb=False, dilate_kernel=0, input_size=input_size,
                  min_input_size=16)
    start = time.perf_counter()
    order = ref.infer_order(model, image, modal, cat, boxes, th=0.1,
                            interp='nearest', **common)
    amodal = {}
    for key, grounded in (('amodal_og', True), ('amodal_nog', False)):
        patches = ref.infer_amodal(model, image, modal, cat, boxes, order,
                                   th=0.2, interp='linear',
                                   order_grounded=grounded, **common)
        amodal[key] = ref.patch_to_fullimage(patches, boxes, h, w,
                                             interp='linear')
    seconds = time.perf_counter() - start
    out = {'order_ours': order,
           'order_area': ref.infer_order_area(modal, above='smaller'),
           'order_yaxis': ref.infer_order_yaxis(modal),
           'order_convex': ref.infer_order_hull(modal)}
    out.update(amodal)
    out['amodal_convex'] = np.array(
        ref.infer_amodal_hull(modal, boxes, None, order_grounded=False))
    out['amodal_convexr'] = np.array(
        ref.infer_amodal_hull(modal, boxes, out['order_convex'],
                              order_grounded=True))
    return {k: np.asarray(v).astype(np.int8 if k.startswith('order') else
                                    bool) for k, v in out.items()}, seconds


# ---------------------------------------------------------------- mmdeocc
def build_deoccluders(model: PCNetM, input_size: int,
                      fast: bool) -> Dict[str, DeOccluder]:
    """mmdeocc's side, built once as a user would (fast mode prepares its
    network copy here, outside the timed region)."""
    network = dict(input_size=input_size, fast=fast, **REF_SETTINGS)
    out = dict(og=DeOccluder(model, **network),
               nog=DeOccluder(model, amodal_method='ours_nog', **network),
               convexr=DeOccluder(order_method='convex',
                                  amodal_method='convexr'),
               convex=DeOccluder(order_method='convex',
                                 amodal_method='convex'))
    for kind in ('area', 'yaxis'):
        out[kind] = DeOccluder(order_method=kind, amodal_method='raw')
    return out


def run_mmdeocc(deoccluders: Dict[str, DeOccluder], modal: np.ndarray
                ) -> Tuple[Dict[str, np.ndarray], float]:
    """mmdeocc's outputs for one image and its network-method time."""
    masks = torch.from_numpy(modal.astype(bool))
    start = time.perf_counter()
    result = deoccluders['og'](masks)
    nog = deoccluders['nog'].amodal(masks, result.order)
    seconds = time.perf_counter() - start
    out = {'order_ours': result.order, 'amodal_og': result.amodal_masks,
           'amodal_nog': nog}
    for kind in ('area', 'yaxis', 'convex'):
        out['order_' + kind] = deoccluders[kind].order(masks)
    out['amodal_convexr'] = deoccluders['convexr'].amodal(
        masks, out['order_convex'])
    out['amodal_convex'] = deoccluders['convex'].amodal(
        masks, out['order_convex'])
    return {k: v.cpu().numpy().astype(np.int8 if k.startswith('order') else
                                      bool) for k, v in out.items()}, seconds


# ---------------------------------------------------------------- data
def load_images(path: str, data_format: str,
                limit: int) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """``(name, modal (N, H, W) uint8, amodal GT or modal)`` per image with
    at least one region with a non-empty visible mask."""
    records, _ = load_annotations(path, data_format)
    images = []
    for record in records:
        insts = [i for i in record['instances'] if i.get('recoverable', True)
                 and not i.get('ignore_flag', 0)]
        if not insts:
            continue
        modal = np.stack([decode_rle(i['modal_mask']) for i in insts])
        amodal = np.stack([
            decode_rle(i['amodal_mask']) if i.get('amodal_mask') else
            decode_rle(i['modal_mask']) for i in insts
        ])
        name = osp.splitext(osp.basename(str(record.get('img_path') or
                                             record['img_id'])))[0]
        images.append((name, modal.astype(np.uint8), amodal.astype(bool)))
        if limit and len(images) >= limit:
            break
    return images


def build_model(args: argparse.Namespace) -> Tuple[PCNetM, str]:
    """The mmdeocc PCNet-M to compare and a description of its weights."""
    if args.checkpoint:
        model = load_pcnet_m(args.checkpoint)
        return model.eval(), osp.basename(args.checkpoint)
    torch.manual_seed(args.seed)
    model = PCNetM(width=args.width, in_size=args.input_size or 256)
    generator = torch.Generator().manual_seed(args.seed)
    for module in model.modules():  # non-trivial eval-mode statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(
                torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(
                torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval(), f'random (seed {args.seed}, width {args.width:g})'


def reference_net(unet_module: Any, model: PCNetM) -> torch.nn.Module:
    """The reference UNet carrying ``model``'s weights."""
    width = float(model.unet.width)
    if width not in REF_ARCHS:
        raise SystemExit(f'bench_ref_parity: error: the reference has no '
                         f'UNet of width {width:g}')
    net = getattr(unet_module, REF_ARCHS[width])(in_channels=2, n_classes=2)
    state = mmdeocc_to_reference_pcnet_m(model.state_dict(), module_prefix='')
    net.load_state_dict(state)
    return net.eval()


# ---------------------------------------------------------------- compare
def gt_order(ref: Any, modal: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """The reference's ground-truth order from modal and amodal masks."""
    return np.asarray(ref.infer_gt_order(modal, amodal.astype(np.uint8)),
                      dtype=np.int8)


def compare(pairs: List[Tuple[Dict, Dict]]) -> Dict[str, Dict[str, Any]]:
    """Agreement per output kind over all images."""
    report = {}
    for kind in ORDER_KINDS:
        key = 'order_' + kind
        diffs = [int((r[key] != m[key]).sum() // 2) for r, m in pairs]
        related = sum(int(((r[key] != 0) | (m[key] != 0)).sum() // 2)
                      for r, m in pairs)
        report[key] = dict(identical_images=sum(d == 0 for d in diffs),
                           differing_pairs=sum(diffs), related_pairs=related)
    for key in MASK_KINDS:
        same_img = same_inst = inst = diff_px = 0
        min_iou = 1.0
        for r, m in pairs:
            a, b = r[key], m[key]
            diff = (a != b).reshape(len(a), -1).sum(1)
            union = (a | b).reshape(len(a), -1).sum(1)
            inter = (a & b).reshape(len(a), -1).sum(1)
            iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
            same_img += int(diff.sum() == 0)
            same_inst += int((diff == 0).sum())
            inst += len(a)
            diff_px += int(diff.sum())
            min_iou = min(min_iou, float(iou.min()) if len(iou) else 1.0)
        report[key] = dict(identical_images=same_img,
                           identical_instances=same_inst, instances=inst,
                           differing_pixels=diff_px, min_instance_iou=min_iou)
    return report


def metrics(outputs: List[Dict], gts: List[Tuple[np.ndarray, np.ndarray]]
            ) -> Dict[str, float]:
    """Occluded-pair accuracy (%) and pooled amodal IoU (%) of one side."""
    out = {}
    for kind in ORDER_KINDS:
        right = total = 0
        for o, (order_gt, _) in zip(outputs, gts):
            occ = order_gt != 0
            right += int(((o['order_' + kind] == order_gt) & occ).sum())
            total += int(occ.sum())
        out['order_' + kind] = 100.0 * right / max(total, 1)
    for key in MASK_KINDS:
        inter = union = 0
        for o, (_, amodal) in zip(outputs, gts):
            inter += int((o[key] & amodal).sum())
            union += int((o[key] | amodal).sum())
        out[key] = 100.0 * inter / max(union, 1)
    return out


def save_golden(path: str, names: List[str], modals: List[np.ndarray],
                outputs: List[Dict], info: Dict[str, Any]) -> None:
    """Write the reference outputs (bit-packed masks) to ``path``."""
    arrays = {'info': np.array(json.dumps(info))}
    for name, modal, out in zip(names, modals, outputs):
        arrays[f'{name}/shape'] = np.array(modal.shape)
        arrays[f'{name}/modal'] = np.packbits(modal.astype(bool))
        for key, value in out.items():
            arrays[f'{name}/{key}'] = (value if key.startswith('order') else
                                       np.packbits(value))
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def print_report(report: Dict[str, Any]) -> None:
    """Print the parity and metric tables."""
    print(f"\n{report['images']} images, {report['instances']} objects, "
          f"weights {report['weights']}, crop {report['input_size']}, "
          f"mmdeocc {'fast' if report['fast'] else 'exact'} mode")
    print('\n| output | identical images | differing pairs / pixels | '
          'identical instances | min instance IoU |')
    print('|---|---|---|---|---|')
    n = report['images']
    for key, row in report['parity'].items():
        if key.startswith('order'):
            print(f"| {key} | {row['identical_images']}/{n} | "
                  f"{row['differing_pairs']} of {row['related_pairs']} "
                  'pairs | - | - |')
        else:
            print(f"| {key} | {row['identical_images']}/{n} | "
                  f"{row['differing_pixels']} px | "
                  f"{row['identical_instances']}/{row['instances']} | "
                  f"{row['min_instance_iou']:.4f} |")
    print('\n| metric | reference | mmdeocc |')
    print('|---|---|---|')
    for key in report['metrics']['reference']:
        print(f"| {key} | {report['metrics']['reference'][key]:.2f} | "
              f"{report['metrics']['mmdeocc'][key]:.2f} |")
    t_ref, t_ours = report['seconds']['reference'], report['seconds'][
        'mmdeocc']
    print(f'\nnetwork methods (order + OG + NOG): reference {t_ref:.2f} s, '
          f'mmdeocc {t_ours:.2f} s, ratio {t_ref / max(t_ours, 1e-9):.2f}x')


def main(argv: Optional[List[str]] = None) -> int:
    """Run both sides, compare, print (and optionally save golden files)."""
    args = parse_args(argv)
    ref_src = os.environ.get('REF_SRC')
    if not ref_src:
        print('bench_ref_parity: skipped: set REF_SRC to a local copy of the '
              "reference's source tree (XiaohangZhan/deocclusion .py files) "
              'and put scikit-image on PYTHONPATH')
        return 0
    torch.set_num_threads(args.threads)
    ref, unet_module = import_reference(ref_src)
    model, weights = build_model(args)
    input_size = args.input_size or model.in_size
    net = reference_net(unet_module, model)
    images = load_images(args.ann, args.format, args.limit)
    deoccluders = build_deoccluders(model, input_size, args.fast)
    pairs, gts, seconds = [], [], {'reference': 0.0, 'mmdeocc': 0.0}
    for k, (name, modal, amodal) in enumerate(images):
        r, t_ref = run_reference(ref, net, modal, input_size)
        m, t_ours = run_mmdeocc(deoccluders, modal)
        seconds['reference'] += t_ref
        seconds['mmdeocc'] += t_ours
        pairs.append((r, m))
        gts.append((gt_order(ref, modal, amodal), amodal))
        print(f'\r{k + 1}/{len(images)} images', end='', file=sys.stderr)
    report = dict(images=len(images),
                  instances=sum(len(x[1]) for x in images), weights=weights,
                  input_size=input_size, fast=args.fast,
                  threads=args.threads, machine=platform.processor() or
                  platform.machine(), parity=compare(pairs),
                  metrics=dict(reference=metrics([p[0] for p in pairs], gts),
                               mmdeocc=metrics([p[1] for p in pairs], gts)),
                  seconds=seconds)
    print_report(report)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    if args.save_golden:
        count = args.golden_images
        digest = hashlib.sha256(open(args.checkpoint, 'rb').read()).hexdigest(
        ) if args.checkpoint else None
        info = dict(source='reference implementation (XiaohangZhan/'
                    'deocclusion) run by tools/benchmarks/bench_ref_parity.py',
                    annotations=osp.basename(args.ann), weights=weights,
                    checkpoint_sha256=digest, input_size=input_size,
                    **REF_SETTINGS)
        save_golden(args.save_golden, [x[0] for x in images[:count]],
                    [x[1] for x in images[:count]],
                    [p[0] for p in pairs[:count]], info)
        print(f'golden outputs of {min(count, len(images))} images -> '
              f'{args.save_golden}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
