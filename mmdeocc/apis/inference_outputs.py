"""What the inferencers write: per-image records, pictures and files.

The record of a de-occluded image (``preds/<name>.json``, and the
``predictions`` entries of :class:`~mmdeocc.apis.DeOcclusionInferencer`)
has the layout of MMDetection's ``DetInferencer`` predictions (``labels``,
``scores``, ``bboxes`` as ``[x1, y1, x2, y2]``, ``masks`` as COCO RLE) plus
the de-occlusion fields: ``amodal_masks`` (RLE), ``amodal_bboxes``,
``order`` (``(N, N)`` list of lists, ``order[i][j] = 1``: i occludes j),
``occlusion_edges`` (``[occluder, occludee]`` pairs), ``deoccluded``,
``layers``, ``height``, ``width``, ``num_objects``, ``file_name``,
``img_path``, ``category_ids``, ``category_names`` and, with annotated
masks, ``ann_ids``. :meth:`~mmdeocc.structures.DeOcclusionResult.from_dict`
reads it back. Every file is written atomically.
"""
import os
import os.path as osp
import shutil
from typing import Any, Dict, Mapping, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.logging import print_log

from mmdeocc.structures import DeOcclusionResult, masks_to_bboxes
from mmdeocc.structures.masks import to_numpy
from mmdeocc.structures.order import order_to_edges
from mmdeocc.utils.io import atomic_write_bytes, atomic_write_json
from mmdeocc.visualization import object_colours, render_content_layers


def xyxy_boxes(masks: np.ndarray) -> list:
    """Tight ``[x1, y1, x2, y2]`` boxes of masks (mmdet's convention)."""
    boxes = masks_to_bboxes(torch.from_numpy(masks))
    boxes[:, 2:] += boxes[:, :2]
    return boxes.tolist()


def sample_to_record(sample: Any,
                     class_names: Optional[Sequence[str]] = None,
                     label_to_category: Optional[Mapping[int, int]] = None,
                     file_name: Optional[str] = None) -> Dict[str, Any]:
    """The JSON record of a de-occluded data sample (module docstring).

    Args:
        sample (DetDataSample): With ``pred_instances.masks``,
            ``amodal_masks`` and ``pred_occlusion_order``.
        class_names (Sequence[str], optional): Names by label.
        label_to_category (Mapping, optional): Label -> category id.
        file_name (str, optional): Image file name to record.

    Returns:
        dict: JSON-ready.
    """
    pred = sample.pred_instances
    result = DeOcclusionResult.from_det_sample(sample)
    labels = result.labels
    record: Dict[str, Any] = dict(
        file_name=file_name,
        img_path=sample.metainfo.get('img_path'),
        num_objects=result.num_objects)
    fields = result.to_dict()
    fields['masks'] = fields.pop('modal_masks')
    record.update(fields)
    if 'bboxes' in pred and len(pred.bboxes) == result.num_objects \
            and float(pred.bboxes.sum()) != 0:
        record['bboxes'] = to_numpy(pred.bboxes).astype(float).tolist()
    else:  # no detector boxes (annotated masks, SOLO-like models)
        record['bboxes'] = xyxy_boxes(result.modal_masks)
    record['amodal_bboxes'] = xyxy_boxes(result.amodal_masks)
    names, cats = [], []
    for label in ([] if labels is None else labels.tolist()):
        names.append(class_names[int(label)] if class_names is not None
                     and 0 <= int(label) < len(class_names) else None)
        cats.append(label_to_category.get(int(label))
                    if label_to_category else None)
    record['category_ids'] = cats if labels is not None else None
    record['category_names'] = names if labels is not None else None
    flags = pred.get('deoccluded', None)
    record['deoccluded'] = None if flags is None else to_numpy(
        flags).astype(bool).tolist()
    record['occlusion_edges'] = [
        list(edge) for edge in order_to_edges(result.order)
    ]
    ann_ids = sample.metainfo.get('ann_ids')
    if ann_ids is not None:
        record['ann_ids'] = [int(a) for a in ann_ids]
    if 'content_layers' in sample:
        layers = sample.content_layers
        record['content'] = dict(
            instance_ids=[int(i) for i in layers.instance_indices],
            fill_pixels=[int(n) for n in layers.fill_masks.sum((1, 2))],
            background_pixels=int(layers.background_hole.sum()))
    return record


def write_png(image: np.ndarray, path: str) -> None:
    """Write a BGR image as PNG (atomically)."""
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'cannot encode PNG for {path}')
    atomic_write_bytes(buf.tobytes(), path)


def write_json(obj: Any, path: str) -> None:
    """Write JSON (atomically)."""
    atomic_write_json(obj, path, compact=False)


def write_content_files(sample: Any, record: Dict[str, Any], out_dir: str,
                        name: str) -> str:
    """Write the content pictures and layers of one image.

    Lists them in ``record['content']`` (paths relative to ``out_dir``).

    Args:
        sample (DetDataSample): With ``content_layers``.
        record (dict): Its record (:func:`sample_to_record`), updated.
        out_dir (str): Output folder.
        name (str): Output name of the image.

    Returns:
        str: Path of the content picture.
    """
    layers = sample.content_layers
    ids = [int(i) for i in layers.instance_indices]
    names = record.get('category_names')
    num = len(record.get('deoccluded') or ids)
    picture = render_content_layers(
        layers,
        names=[names[i] for i in ids] if names else None,
        colours=object_colours(max(num, 1))[ids],
        ids=ids)
    files = dict(picture=osp.join('content', f'{name}.png'),
                 background=osp.join('content', name, 'background.png'),
                 layers={})
    write_png(picture, osp.join(out_dir, files['picture']))
    write_png(np.ascontiguousarray(layers.background[..., ::-1]),
              osp.join(out_dir, files['background']))
    for k, obj in enumerate(ids):
        rel = osp.join('content', name, f'object_{obj}.png')
        rgba = layers.rgba(k)
        write_png(np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]),
                  osp.join(out_dir, rel))
        files['layers'][str(obj)] = rel
    record['content'].update(files)
    return osp.join(out_dir, files['picture'])


#: What the inferencer writes in an output folder.
OUTPUT_SUBDIRS = ('vis', 'order', 'preds', 'content')
SUMMARY_FILE = 'summary.json'


def clean_out_dir(out_dir: str) -> int:
    """Remove the outputs of an earlier run from an output folder.

    A reused folder would otherwise mix stale per-image files with the new
    run's summary. Only what the inferencer writes is removed (the
    :data:`OUTPUT_SUBDIRS` and the summary), and only when the folder's
    ``summary.json`` shows an earlier run wrote it.

    Args:
        out_dir (str): The output folder.

    Returns:
        int: Number of files removed.

    Raises:
        FileExistsError: The folder has output sub-folders with files but no
            summary (not written by this tool, or a killed run): give an
            empty folder or remove them.
    """
    present = [d for d in OUTPUT_SUBDIRS
               if osp.isdir(osp.join(out_dir, d))
               and os.listdir(osp.join(out_dir, d))]
    summary = osp.join(out_dir, SUMMARY_FILE)
    if not osp.isfile(summary):
        if present:
            raise FileExistsError(
                f'output folder {out_dir} already has {", ".join(present)} '
                f'but no {SUMMARY_FILE} of an earlier run: give an empty '
                '--out-dir or remove those folders')
        return 0
    removed = 0
    for sub in present:
        for root, _, files in os.walk(osp.join(out_dir, sub)):
            removed += len(files)
        shutil.rmtree(osp.join(out_dir, sub))
    os.remove(summary)
    if removed:
        print_log(f'{out_dir}: removed {removed} files of the earlier run',
                  logger='current')
    return removed
