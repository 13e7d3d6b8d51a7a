"""Scene re-composition: de-occlude an image, then delete, move or re-order
its objects and redraw it (METHOD 3.5).

The modal masks come from a COCO-format annotation file (``--masks-from``;
the image is matched by ``file_name``, else by base name). PCNet-M recovers
the occlusion order and the amodal masks, PCNet-C completes the invisible
content of every object and the background, and the layers are redrawn back
to front after the edits (``mmdeocc.deocclusion.SceneRecomposer``: untouched
objects keep their visible pixels exactly).

Objects are numbered 0..N-1 in the order of the image's (non-crowd)
annotations in the file; the tool prints the list.

Examples::

    # delete object 2, move object 5 by 40 px right and 10 px up, bring
    # object 1 to the front
    python tools/recompose.py demo/images/000000000438.jpg \\
        --masks-from demo/annotations.json \\
        --pcnet-m checkpoints/pcnet_m_coco128_128k.pth \\
        --pcnet-c checkpoints/pcnet_c_coco128.pth \\
        --delete 2 --move 5 40 -10 --to-front 1 --out outputs/recomposed.png

    # also write the background and one RGBA layer per object
    python tools/recompose.py IMAGE --masks-from ANN.json --pcnet-m M.pth \\
        --pcnet-c C.pth --out out.png --layers-dir outputs/layers
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence

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
        description='Re-compose a scene: delete, move or re-order the '
        'objects of an image after de-occlusion and content completion.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('image', help='image file')
    parser.add_argument(
        '--masks-from', metavar='ANN.json', required=True,
        help='COCO-format annotation file with the modal masks of the image '
        '(matched by file_name)')
    parser.add_argument('--pcnet-m', metavar='CKPT', required=True,
                        help='PCNet-M checkpoint (mmdeocc format)')
    parser.add_argument('--pcnet-c', metavar='CKPT', required=True,
                        help='PCNet-C checkpoint (mmdeocc format)')
    parser.add_argument('--out', metavar='OUT.png', required=True,
                        help='output picture')
    edits = parser.add_argument_group(
        'edits (objects are numbered 0..N-1 as printed; applied in the '
        'order delete, move, to-back, to-front, above)')
    edits.add_argument('--delete', type=int, nargs='+', default=[],
                       metavar='I', help='objects to remove')
    edits.add_argument('--move', type=int, nargs=3, action='append',
                       default=[], metavar=('I', 'DX', 'DY'),
                       help='translate object I by (DX, DY) pixels '
                       '(repeatable)')
    edits.add_argument('--to-front', type=int, nargs='+', default=[],
                       metavar='I', help='draw these objects in front')
    edits.add_argument('--to-back', type=int, nargs='+', default=[],
                       metavar='I', help='draw these objects behind all')
    edits.add_argument('--above', type=int, nargs=2, action='append',
                       default=[], metavar=('I', 'J'),
                       help='draw object I just in front of object J '
                       '(repeatable)')
    parser.add_argument(
        '--layers-dir', metavar='DIR',
        help='also write background.png, layer_III.png (RGBA, one per '
        'object) and scene.json (order, drawing order, objects, edits)')
    parser.add_argument(
        '--content-size', type=int, default=None,
        help='PCNet-C crop side (default: the size it was trained at, '
        'in_size of its config; 256 for the reference weights)')
    parser.add_argument(
        '--deoccluder-options', nargs='+', action=DictAction, default={},
        metavar='KEY=VALUE',
        help='DeOccluder options, e.g. amodal_th=0.5 amodal_union_visible='
        'True')
    parser.add_argument(
        '--content-options', nargs='+', action=DictAction, default={},
        metavar='KEY=VALUE',
        help='ContentCompleter options, e.g. keep_visible=False '
        'background_dilation=9')
    parser.add_argument('--device', default='cpu',
                        help='device, e.g. cpu or cuda:0')
    args = parser.parse_args(argv)
    for name in ('image', 'masks_from', 'pcnet_m', 'pcnet_c'):
        path = getattr(args, name)
        if not osp.isfile(path):
            parser.error(f'{name.replace("_", "-")}: file {path} does not '
                         'exist')
    return args


def check_indices(args: argparse.Namespace, num: int) -> Optional[str]:
    """A message naming the first edit whose object does not exist."""
    refs = [('--delete', i) for i in args.delete]
    refs += [('--move', m[0]) for m in args.move]
    refs += [('--to-front', i) for i in args.to_front]
    refs += [('--to-back', i) for i in args.to_back]
    refs += [('--above', i) for pair in args.above for i in pair]
    for option, index in refs:
        if not 0 <= index < num:
            return (f'{option} {index}: the image has {num} objects '
                    f'(0..{num - 1})')
    return None


def write_layers(folder: str, layers, result, names: Sequence[str],
                 ann_ids: Sequence[int], stacking: Sequence[int],
                 edits: Dict[str, Any]) -> None:
    """Write the background, the RGBA layers and ``scene.json``."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    cv2.imwrite(osp.join(folder, 'background.png'),
                layers.background[..., ::-1])
    for index in range(layers.num_objects):
        rgba = layers.rgba(index)
        cv2.imwrite(
            osp.join(folder, f'layer_{index:03d}.png'),
            rgba[..., [2, 1, 0, 3]])
    order = result.order
    order = order.cpu().numpy() if hasattr(order, 'cpu') else order
    scene = dict(
        objects=[
            dict(index=i, ann_id=int(a), category=n)
            for i, (a, n) in enumerate(zip(ann_ids, names))
        ],
        order=order.astype(int).tolist(),
        drawing_order=[int(i) for i in stacking],
        edits=edits)
    with open(osp.join(folder, 'scene.json'), 'w') as f:
        json.dump(scene, f, indent=1)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the re-composition.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        int: Exit status (0 on success).
    """
    args = parse_args(argv)
    import mmcv

    from mmdeocc.datasets import load_coco_modal
    from mmdeocc.datasets.image_index import (ImageNotAnnotatedError,
                                              ImageRecordIndex,
                                              annotated_masks)
    from mmdeocc.deocclusion import (ContentCompleter, ContentCompletionError,
                                     DeOcclusionConfigError, RecomposeError,
                                     SceneRecomposer, build_deoccluder,
                                     recompose)
    from mmdeocc.models import load_pcnet_c

    image = mmcv.imread(args.image, channel_order='rgb')
    if image is None:
        print(f'recompose.py: error: cannot read image {args.image}',
              file=sys.stderr)
        return 1
    records, categories = load_coco_modal(args.masks_from)
    try:
        record = ImageRecordIndex(records, args.masks_from).find(args.image)
    except ImageNotAnnotatedError as err:
        print(f'recompose.py: error: {err}', file=sys.stderr)
        return 1
    if image.shape[:2] != (record['height'], record['width']):
        print(f'recompose.py: error: {args.image} is {image.shape[0]}x'
              f'{image.shape[1]} but {args.masks_from} says '
              f'{record["height"]}x{record["width"]}', file=sys.stderr)
        return 1
    masks, instances = annotated_masks(record)
    if not instances:
        print(f'recompose.py: error: {args.image} has no instance in '
              f'{args.masks_from}', file=sys.stderr)
        return 1
    names_by_id = {int(c['id']): str(c.get('name', c['id']))
                   for c in categories}
    category_ids = [int(inst['category_id']) for inst in instances]
    names = [names_by_id.get(c, str(c)) for c in category_ids]
    ann_ids = [int(inst['ann_id']) for inst in instances]
    bad = check_indices(args, len(instances))
    if bad:
        print(f'recompose.py: error: {bad}', file=sys.stderr)
        return 2
    print(f'{len(instances)} objects in {args.image}:')
    for index, (ann_id, name) in enumerate(zip(ann_ids, names)):
        print(f'  {index:3d}: {name} (ann_id {ann_id}, '
              f'{int(masks[index].sum())} px)')

    try:
        deoccluder = build_deoccluder(
            dict(dict(amodal_union_visible=True), checkpoint=args.pcnet_m,
                 device=args.device, **dict(args.deoccluder_options)))
        result = deoccluder(masks, category_ids)
        completer = ContentCompleter(
            load_pcnet_c(args.pcnet_c, device=args.device),
            input_size=args.content_size, device=args.device,
            **dict(args.content_options))
        layers = completer.from_result(image, result, category_ids)
        scene = SceneRecomposer(layers, result.order)
        picture = recompose(
            layers, result.order, delete=args.delete,
            move=[tuple(m) for m in args.move], to_back=args.to_back,
            to_front=args.to_front,
            place_above=[tuple(a) for a in args.above], recomposer=scene)
    except (DeOcclusionConfigError, ContentCompletionError, RecomposeError,
            TypeError, ValueError) as err:
        print(f'recompose.py: error: {err}', file=sys.stderr)
        return 2
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    if not mmcv.imwrite(picture[..., ::-1], args.out):
        print(f'recompose.py: error: cannot write {args.out}',
              file=sys.stderr)
        return 1
    edits: Dict[str, Any] = dict(
        delete=args.delete, move=args.move, to_front=args.to_front,
        to_back=args.to_back, above=args.above)
    if args.layers_dir:
        write_layers(args.layers_dir, layers, result, names, ann_ids,
                     scene.stacking, edits)
    done = ', '.join(f'{k} {v}' for k, v in edits.items() if v)
    print(f'wrote {args.out} ({done or "no edits"})')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
