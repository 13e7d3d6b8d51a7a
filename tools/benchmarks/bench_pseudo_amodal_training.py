"""Table 4 at CPU size: amodal segmenters trained on pseudo-amodal labels.

The paper (Table 4) turns the modal annotations of KINS into pseudo-amodal
labels with several methods, trains a Mask R-CNN on each, and scores the
amodal masks it predicts against the ground-truth amodal annotations (mask
AP). This is the same experiment on generated occlusion scenes, sized for a
CPU:

1. labels of the training scenes for every ``--methods`` entry with
   :func:`mmdeocc.apis.amodal_labels.generate_amodal_labels` (``gt`` =
   the scenes' true amodal masks, ``raw`` / ``convex`` / ``convexr`` =
   geometric baselines, ``ours`` / ``ours_nog`` = PCNet-M), and the
   ground-truth amodal view of the held-out scenes; all as single-class
   copies (``*_object_view.json``) for the class-agnostic detector;
2. for each label source, the committed tiny Mask R-CNN
   (``checkpoints/mask-rcnn_r18_tiny_scenes.pth``, trained on modal masks)
   is fine-tuned for ``--iters`` iterations through mmengine's Runner with
   the recipe of ``--config`` (frozen backbone, AdamW; same seed, data
   order and schedule for every source);
3. mmdet's CocoMetric scores amodal box and mask AP on the held-out scenes
   (``amodal/segm_mAP``) and, from the same predictions, mask AP against
   their modal masks (``modal/segm_mAP``); the first row is the untouched
   modal detector. ``label mIoU`` is the pooled amodal IoU of the training
   labels against the training scenes' truth.

Labels are resumable and reused when present (same settings); each run
writes its log and checkpoint under ``WORK_DIR/<row>/`` and the table is
printed as markdown and stored in ``WORK_DIR/results.json``.

Example (the scenes: header of
``configs/amodal/mask-rcnn_r18_tiny_scenes-ft-pseudo-amodal_cpu.py``)::

    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
    python tools/benchmarks/bench_pseudo_amodal_training.py \\
        --train-scenes data/scenes/amodal_seg/train \\
        --val-scenes data/scenes/amodal_seg/val \\
        --methods gt,raw,convexr,ours --iters 400 --work-dir work_dirs/t4_tiny
"""
import argparse
import copy
import json
import logging
import math
import os
import os.path as osp
import platform
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
# Make the repository and its tools importable when run from a clone.
sys.path.insert(0, ROOT)
sys.path.append(osp.join(ROOT, 'tools'))  # generate_amodal_labels

from mmdeocc.apis.amodal_labels import (  # noqa: E402
    LABEL_METHODS, NETWORK_METHODS, generate_amodal_labels)
from mmdeocc.datasets.amodal_coco import amodal_view_path  # noqa: E402

DEFAULT_CONFIG = osp.join(
    'configs', 'amodal', 'mask-rcnn_r18_tiny_scenes-ft-pseudo-amodal_cpu.py')
DEFAULT_LABEL_CONFIG = osp.join('configs', 'amodal', 'deocc-labels_shapes.py')
OBJECT_CATEGORY = dict(id=1, name='object', supercategory='shape')
#: Paper names of the label sources (Table 4 rows).
ROW_NAMES = dict(gt='GT amodal', raw='Raw', convex='Convex',
                 convexr='Convex^R', ours='Ours (PCNet-M, OG)',
                 ours_nog='Ours (NOG)')
BASELINE = 'none'
AMODAL, MODAL = 'amodal', 'modal'
METRIC_KEYS = ('segm_mAP', 'segm_mAP_50', 'segm_mAP_75', 'bbox_mAP',
               'bbox_mAP_50')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Table 4 at CPU size: fine-tune the tiny Mask R-CNN on '
        'pseudo-amodal labels of each method and report amodal mask / box '
        'AP against the ground-truth amodal masks of held-out scenes.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--train-scenes', default='data/scenes/amodal_seg/'
                        'train', help='training scenes (annotations.json in '
                        'the amodal COCO format + images/)')
    parser.add_argument('--val-scenes', default='data/scenes/amodal_seg/val',
                        help='held-out scenes (same layout)')
    parser.add_argument(
        '--methods', default='gt,raw,convexr,ours',
        help='comma-separated label sources: ' + ', '.join(
            sorted(LABEL_METHODS)) + '; the untouched modal detector is '
        'evaluated first (--skip-baseline to leave it out)')
    parser.add_argument('--iters', type=int, default=200,
                        help='fine-tuning iterations per label source')
    parser.add_argument('--batch-size', type=int, default=4,
                        help='training images per iteration')
    parser.add_argument('--lr', type=float, default=None,
                        help="learning rate (default: the config's; lr / 10 "
                        'for the last quarter, linear warm-up over 10%% of '
                        'the run)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of every run (same data order)')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='segmenter config (single class)')
    parser.add_argument('--load-from', default=None,
                        help='starting weights (default: the config\'s '
                        'load_from, the committed tiny modal detector)')
    parser.add_argument('--pcnet-m', default='checkpoints/pcnet_m_shapes.pth',
                        help='PCNet-M checkpoint for ours / ours_nog')
    parser.add_argument('--label-config', default=DEFAULT_LABEL_CONFIG,
                        help='DeOccluder options for the labels')
    parser.add_argument('--work-dir', default='work_dirs/t4_tiny',
                        help='labels (WORK_DIR/labels), runs, results.json')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (0 = leave as is)')
    parser.add_argument('--skip-baseline', action='store_true',
                        help='do not evaluate the untouched modal detector')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override segmenter config entries of every run')
    args = parser.parse_args(argv)
    args.methods = [m for m in args.methods.split(',') if m]
    bad = [m for m in args.methods if m not in LABEL_METHODS]
    if bad or not args.methods:
        parser.error(f'--methods: unknown {bad}; choose from '
                     f'{sorted(LABEL_METHODS)}')
    if args.iters < 1:
        parser.error('--iters must be >= 1')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    return args


def single_class_view(src: str, dst: str) -> str:
    """Write a copy of a COCO file with every instance in one category.

    Args:
        src (str): COCO file (e.g. an amodal view).
        dst (str): Output path.

    Returns:
        str: ``dst``.
    """
    with open(src) as f:
        data = json.load(f)
    data['annotations'] = [
        dict(ann, category_id=OBJECT_CATEGORY['id'])
        for ann in data['annotations']
    ]
    data['categories'] = [dict(OBJECT_CATEGORY)]
    tmp = dst + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, dst)
    return dst


def make_labels(ann_file: str, split: str, method: str, label_dir: str,
                pcnet_m: str, label_config: str) -> Dict[str, Any]:
    """Labels of one split by one method, as a single-class amodal view.

    Args:
        ann_file (str): The scenes' amodal COCO annotation file.
        split (str): ``'train'`` or ``'val'`` (file name prefix).
        method (str): A key of ``LABEL_METHODS``.
        label_dir (str): Output folder.
        pcnet_m (str): PCNet-M checkpoint (network methods only).
        label_config (str): Config with ``deoccluder = dict(...)``.

    Returns:
        dict: ``view`` (single-class amodal view path) and ``seconds``
        (label generation time; 0 when reused).
    """
    import generate_amodal_labels as label_tool
    os.makedirs(label_dir, exist_ok=True)
    out = osp.join(label_dir, f'{split}_{method}.json')
    if method == 'gt':
        deoccluder = None
    else:
        cfg = label_tool.load_label_config(label_config)
        deoccluder = label_tool.build_label_deoccluder(
            method, cfg, pcnet_m if method in NETWORK_METHODS else 'none',
            'cpu', None, False)
    summary = generate_amodal_labels(
        ann_file, out, deoccluder=deoccluder, method=method,
        data_format='amodal_coco', progress=False)
    view = osp.join(label_dir, f'{split}_{method}_object_view.json')
    single_class_view(amodal_view_path(out), view)
    return dict(view=view, seconds=summary.seconds)


def label_miou(view: str, gt_view: str) -> float:
    """Pooled amodal IoU (%) of labels against the ground truth (METHOD 4.3:
    summed intersections over summed unions), matched by annotation id.

    Args:
        view (str): Labels (COCO file with amodal ``segmentation``).
        gt_view (str): Ground-truth amodal view of the same images.

    Returns:
        float: The pooled IoU in percent (NaN when nothing matches).
    """
    from mmdeocc.evaluation.functional import percent
    from mmdeocc.structures import (rle_area, rle_intersection_area,
                                    segmentation_to_rle)
    with open(view) as f:
        labels = json.load(f)
    with open(gt_view) as f:
        truth = json.load(f)
    sizes = {img['id']: (img['height'], img['width'])
             for img in truth['images']}
    gt = {ann['id']: ann for ann in truth['annotations']}
    inter = union = 0
    for ann in labels['annotations']:
        ref = gt.get(ann['id'])
        if ref is None or ann.get('iscrowd', 0):
            continue
        h, w = sizes[ann['image_id']]
        pred = segmentation_to_rle(ann['segmentation'], h, w)
        true = segmentation_to_rle(ref['segmentation'], h, w)
        both = rle_intersection_area(pred, true)
        inter += both
        union += rle_area(pred) + rle_area(true) - both
    return percent(inter, union)


def build_run_config(base: Config, work_dir: str, train_ann: Optional[str],
                     train_img_dir: str, val_ann: str, val_img_dir: str,
                     iters: int, batch_size: int, lr: Optional[float],
                     seed: int,
                     load_from: Optional[str], name: str,
                     modal_ann: Optional[str] = None) -> Config:
    """The config of one fine-tuning (or evaluation-only) run.

    Args:
        base (Config): Segmenter config.
        work_dir (str): Run folder.
        train_ann (str, optional): Training labels (single-class amodal
            view); None for an evaluation-only run.
        train_img_dir (str): Training images.
        val_ann (str): Ground-truth single-class amodal view (metrics
            ``amodal/...``).
        val_img_dir (str): Held-out images.
        iters (int): Training iterations.
        batch_size (int): Images per iteration.
        lr (float, optional): Learning rate (None: the config's).
        seed (int): Random seed.
        load_from (str, optional): Starting weights.
        name (str): Experiment name (unique per run in one process).
        modal_ann (str, optional): Single-class modal annotations of the
            same held-out images: adds the modal AP (``modal/...``) to the
            same evaluation pass.

    Returns:
        Config: The run's config.
    """
    cfg = copy.deepcopy(base)
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.randomness = dict(seed=seed)
    if load_from is not None:
        cfg.load_from = load_from
    cfg.resume = False
    val_ds = cfg.val_dataloader.dataset
    val_ds.data_root = ''
    val_ds.ann_file = osp.abspath(val_ann)
    val_ds.data_prefix = dict(img=osp.abspath(val_img_dir) + os.sep)
    cfg.test_dataloader = cfg.val_dataloader
    # CocoMetric with an ann_file takes the truth from that file: the
    # predictions of one pass are scored against amodal and modal masks
    amodal_metric = dict(cfg.val_evaluator, ann_file=osp.abspath(val_ann),
                         prefix=AMODAL)
    cfg.val_evaluator = [amodal_metric]
    if modal_ann is not None:
        cfg.val_evaluator.append(
            dict(amodal_metric, ann_file=osp.abspath(modal_ann),
                 prefix=MODAL))
    cfg.test_evaluator = cfg.val_evaluator
    train_ds = cfg.train_dataloader.dataset
    train_ds.data_root = ''
    train_ds.data_prefix = dict(img=osp.abspath(train_img_dir) + os.sep)
    if train_ann is not None:
        train_ds.ann_file = osp.abspath(train_ann)
    else:  # evaluation only: any valid training file keeps the Runner happy
        train_ds.ann_file = osp.abspath(val_ann)
        train_ds.data_prefix = dict(img=osp.abspath(val_img_dir) + os.sep)
    cfg.train_dataloader.batch_size = batch_size
    # no validation inside the loop (mmengine validates at the last
    # iteration unless val_begin lies beyond it): run_segmenter evaluates
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_begin=iters + 1, val_interval=iters + 1)
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    warmup = max(1, iters // 10)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=warmup),
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=iters,
             milestones=[max(warmup, int(iters * 0.75))], gamma=0.1),
    ]
    cfg.default_hooks.logger.interval = max(1, min(20, iters // 5))
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=iters,
        max_keep_ckpts=1, save_optimizer=False)
    return cfg


def run_segmenter(cfg: Config, train: bool) -> Dict[str, float]:
    """Fine-tune (optionally) and evaluate through mmengine's Runner.

    Args:
        cfg (Config): A :func:`build_run_config` config.
        train (bool): Train before evaluating.

    Returns:
        dict: The evaluator's metrics (``amodal/segm_mAP``, ...) plus
        ``train_s`` and ``eval_s``.
    """
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    if train:
        runner.train()
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    metrics = dict(runner.val())
    metrics.update(train_s=train_s, eval_s=time.perf_counter() - start)
    return metrics


def metric(metrics: Dict[str, float], key: str,
           prefix: str = AMODAL) -> float:
    """``metrics[prefix/key]`` as a float (NaN when missing)."""
    value = metrics.get(f'{prefix}/{key}')
    return float('nan') if value is None else float(value)


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    """Markdown table of the runs (AP in %).

    Args:
        rows (Sequence[dict]): Results of :func:`main`.

    Returns:
        str: The table.
    """
    lines = [
        '| Training labels | label mIoU | iterations | amodal mask AP | '
        'AP50 | AP75 | amodal box AP | box AP50 | modal mask AP | label s | '
        'train s |',
        '|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'
    ]
    for row in rows:
        vals = [100 * metric(row['metrics'], k) for k in METRIC_KEYS]
        vals.append(100 * metric(row['metrics'], 'segm_mAP', MODAL))
        miou = ('-' if math.isnan(row['label_miou']) else
                f"{row['label_miou']:.1f}")
        lines.append(
            f"| {row['name']} | {miou} | {row['iters']} | " + ' | '.join(
                f'{v:.1f}' for v in vals) +
            f" | {row['label_s']:.0f} | {row['metrics']['train_s']:.0f} |")
    return '\n'.join(lines)


def _cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else the platform's word."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _json_safe(value: Any) -> Any:
    """``value`` with NaN floats replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def main(argv: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    """Run the benchmark.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        list[dict]: One row per run: ``method``, ``name``, ``iters``,
        ``label_s`` (label generation seconds, 0 when reused),
        ``label_miou`` (pooled amodal IoU (%) of the training labels against
        the truth; NaN for the baseline) and ``metrics`` (the evaluator's
        output plus ``train_s`` / ``eval_s``).
    """
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    train_ann = osp.join(args.train_scenes, 'annotations.json')
    val_ann = osp.join(args.val_scenes, 'annotations.json')
    for path in (train_ann, val_ann, args.config):
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} not found (scenes: see the header of {args.config})')
    if any(m in NETWORK_METHODS for m in args.methods) and \
            not osp.isfile(args.pcnet_m):
        raise FileNotFoundError(f'PCNet-M checkpoint {args.pcnet_m} not found')
    label_dir = osp.join(args.work_dir, 'labels')
    base = Config.fromfile(args.config)
    if args.cfg_options:
        base.merge_from_dict(args.cfg_options)

    val_view = make_labels(val_ann, 'val', 'gt', label_dir, args.pcnet_m,
                           args.label_config)['view']
    val_modal_view = single_class_view(
        val_ann, osp.join(label_dir, 'val_modal_object_view.json'))
    train_gt_view = make_labels(train_ann, 'train', 'gt', label_dir,
                                args.pcnet_m, args.label_config)['view']
    todo = ([] if args.skip_baseline else [BASELINE]) + args.methods
    rows = []
    for method in todo:
        label_s, view, miou = 0.0, None, float('nan')
        if method != BASELINE:
            labels = make_labels(train_ann, 'train', method, label_dir,
                                 args.pcnet_m, args.label_config)
            label_s, view = labels['seconds'], labels['view']
            miou = label_miou(view, train_gt_view)
        train = method != BASELINE
        cfg = build_run_config(
            base, osp.join(args.work_dir, method), view,
            osp.join(args.train_scenes, 'images'), val_view,
            osp.join(args.val_scenes, 'images'), args.iters,
            args.batch_size, args.lr, args.seed, args.load_from,
            name=f't4_{method}_{os.getpid()}_{len(rows)}',
            modal_ann=val_modal_view)
        metrics = run_segmenter(cfg, train=train)
        row = dict(
            method=method,
            name=('modal detector, not fine-tuned' if method == BASELINE else
                  ROW_NAMES.get(method, method)),
            iters=args.iters if train else 0, label_s=label_s,
            label_miou=miou, metrics=metrics)
        rows.append(row)
        print_log(f"{row['name']}: amodal mask AP "
                  f"{100 * metric(metrics, 'segm_mAP'):.1f}",
                  logger='current', level=logging.INFO)

    table = format_table(rows)
    record = dict(
        argv=sys.argv if argv is None else ['bench'] + list(argv),
        machine=f'{_cpu_name()}, {os.cpu_count()} CPUs, torch '
        f'{torch.__version__}, {torch.get_num_threads()} threads',
        date=time.strftime('%Y-%m-%d %H:%M'),
        rows=[_json_safe(r) for r in rows],
        table=table)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(record, f, indent=1)
    print(table)
    return rows


if __name__ == '__main__':
    main()
