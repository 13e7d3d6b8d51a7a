"""De-occlude images: occlusion order + amodal masks, pictures and JSON.

The modal masks come from an MMDetection instance segmenter
(``--det-config`` / ``--det-checkpoint``) or from a COCO-format annotation
file (``--masks-from``; images are matched by ``file_name``). Per image,
``OUT_DIR`` receives ``vis/<name>.png`` (visible masks coloured, invisible
parts hatched and outlined, object ids), ``order/<name>.png`` (the
occlusion graph, arrows from occluder to occludee) and ``preds/<name>.json``
(COCO RLE modal and amodal masks, order matrix, labels, scores, category
names; mmdet's ``DetInferencer`` layout plus the de-occlusion fields, see
``mmdeocc/apis/inference_outputs.py``), plus ``summary.json``.
With ``--pcnet-c``, PCNet-C also completes the invisible content of every
de-occluded object and the background: ``content/<name>.png`` (input,
background with the objects removed, each completed object) and
``content/<name>/{background,object_<id>}.png`` (RGBA layers).
Unreadable images are skipped with a warning and listed in the summary
(``--strict`` stops at the first one instead).

Examples::

    # masks from annotations (the demo: `make demo`)
    python tools/infer.py demo/images --masks-from demo/annotations.json \\
        --pcnet-m checkpoints/pcnet_m_coco128_128k.pth \\
        --out-dir outputs/demo

    # ... and complete the content of the invisible parts (PCNet-C)
    python tools/infer.py demo/images --masks-from demo/annotations.json \\
        --pcnet-m checkpoints/pcnet_m_coco128_128k.pth \\
        --pcnet-c checkpoints/pcnet_c_w025_coco128.pth --out-dir outputs/demo

    # masks from the committed tiny detector, on a folder of video frames
    python tools/infer.py frames/ \\
        --det-config configs/deocclusion/mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py \\
        --det-checkpoint checkpoints/mask-rcnn_r18_tiny_scenes.pth \\
        --pcnet-m checkpoints/pcnet_m_shapes.pth --out-dir outputs/frames \\
        --score-thr 0.5 --device cuda:0 --fast
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import DictAction

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Scene de-occlusion of images: occlusion order and '
        'amodal masks from a detector\'s or annotated modal masks.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        'inputs', nargs='+',
        help='image files and/or folders of images (e.g. video frames, '
        'processed in natural name order)')
    source = parser.add_argument_group('modal masks (one source)')
    source.add_argument('--det-config',
                        help='MMDetection instance segmentation config')
    source.add_argument('--det-checkpoint', help='detector checkpoint')
    source.add_argument(
        '--masks-from', metavar='ANN.json',
        help='COCO-format annotation file: de-occlude its modal masks '
        '(no detector); images are matched by file_name')
    parser.add_argument(
        '--pcnet-m', metavar='CKPT',
        help='PCNet-M checkpoint (mmdeocc format; convert official ones '
        'with tools/convert_official_ckpt.py)')
    parser.add_argument(
        '--pcnet-c', metavar='CKPT',
        help='PCNet-C checkpoint: also complete the content of the '
        'invisible parts and the background (content/ pictures and RGBA '
        'layers)')
    parser.add_argument(
        '--content-options', nargs='+', action=DictAction, default=None,
        metavar='KEY=VALUE',
        help='ContentCompleter options, e.g. input_size=256 hole_dilation=5 '
        'keep_visible=False (needs --pcnet-c; input_size defaults to the '
        'size PCNet-C was trained at)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='detections below this score are drawn and saved but not '
        'de-occluded')
    parser.add_argument(
        '--max-instances', type=int, default=None,
        help='de-occlude at most this many instances per image (default: '
        '100 detections; all annotated masks)')
    parser.add_argument(
        '--gap-tolerance', type=float, default=None,
        help='touch-test tolerance: 0 = reference, (0, 1) relative to '
        'object size, >= 1 pixels (default: 0.05 for detections, 0 for '
        'annotated masks)')
    parser.add_argument(
        '--label-to-category', type=int, nargs='+', default=None,
        metavar='ID',
        help='dataset category id of each detector label (for PCNet-M '
        'models trained with use_category)')
    parser.add_argument(
        '--deoccluder-options', nargs='+', action=DictAction, default={},
        metavar='KEY=VALUE',
        help='DeOccluder options, e.g. amodal_th=0.5 eraser_dilation=3 '
        'order_method=area')
    parser.add_argument('--device', default='cpu',
                        help='device, e.g. cpu or cuda:0')
    parser.add_argument('--fast', action='store_true',
                        help='faster, not bit-exact network inference')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per detector / de-occlusion call')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the detector config, key=value pairs')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first unreadable image instead of '
                        'skipping it')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    parser.add_argument('--no-save-vis', action='store_true',
                        help='do not write the pictures (vis/, order/, '
                        'content/)')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='do not write the JSON records (preds/)')
    parser.add_argument('--pred-score-thr', type=float, default=0.0,
                        help='least score drawn in the pictures (the '
                        'de-occlusion threshold is --score-thr)')
    parser.add_argument('--show', action='store_true',
                        help='show each picture in a window')
    args = parser.parse_args(argv)
    if (args.det_config is None) == (args.masks_from is None):
        parser.error('give exactly one source of modal masks: --det-config '
                     '(with --det-checkpoint) or --masks-from')
    if args.masks_from is not None and args.det_checkpoint is not None:
        parser.error('--det-checkpoint needs --det-config, not --masks-from')
    if args.content_options is not None and args.pcnet_c is None:
        parser.error('--content-options needs --pcnet-c')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.gap_tolerance is not None and args.gap_tolerance >= 1:
        if args.gap_tolerance != int(args.gap_tolerance):
            parser.error('--gap-tolerance >= 1 is a number of pixels and '
                         'must be an integer')
        args.gap_tolerance = int(args.gap_tolerance)
    for name in ('det_config', 'det_checkpoint', 'masks_from', 'pcnet_m',
                 'pcnet_c'):
        path = getattr(args, name)
        if path is not None and not osp.isfile(path):
            parser.error(f'--{name.replace("_", "-")}: file {path} does not '
                         'exist')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run de-occlusion over the inputs.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        int: Exit status (0 when at least one image was processed, 1 when
        every image was skipped).
    """
    args = parse_args(argv)
    from mmdeocc.apis import DeOcclusionInferencer, ImageSkipped
    from mmdeocc.deocclusion import (DeOcclusionConfigError, DetContentError,
                                     DetDeOcclusionConfigError)

    max_instances = 'auto' if args.max_instances is None else \
        args.max_instances
    try:
        inferencer = DeOcclusionInferencer(
            det_config=args.det_config,
            det_checkpoint=args.det_checkpoint,
            pcnet_m=args.pcnet_m,
            masks_from=args.masks_from,
            deoccluder=dict(args.deoccluder_options),
            score_thr=args.score_thr,
            max_instances=max_instances,
            gap_tolerance=args.gap_tolerance,
            label_to_category=args.label_to_category,
            device=args.device,
            fast=args.fast,
            cfg_options=args.cfg_options,
            pcnet_c=args.pcnet_c,
            content=None if args.content_options is None else dict(
                args.content_options))
    except (DeOcclusionConfigError, DetDeOcclusionConfigError,
            DetContentError) as err:
        hint = '' if args.pcnet_m or isinstance(err, DetContentError) \
            else ' (give --pcnet-m)'
        print(f'infer.py: error: {err}{hint}', file=sys.stderr)
        return 2
    try:
        outputs = inferencer(
            args.inputs,
            batch_size=args.batch_size,
            out_dir=args.out_dir,
            no_save_vis=args.no_save_vis,
            no_save_pred=args.no_save_pred,
            pred_score_thr=args.pred_score_thr,
            show=args.show,
            show_progress=not args.no_progress,
            strict=args.strict)
    except (FileNotFoundError, ImageSkipped) as err:
        print(f'infer.py: error: {err}', file=sys.stderr)
        return 1
    summary = outputs['summary']
    print(f'{summary["num_processed"]} images de-occluded '
          f'({summary["num_objects"]} objects), {summary["num_skipped"]} '
          f'skipped; outputs in {args.out_dir}')
    if summary['num_processed'] == 0:
        print('infer.py: error: no image could be processed (see '
              f'{osp.join(args.out_dir, "summary.json")})', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
