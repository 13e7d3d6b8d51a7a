"""An MMDetection visualizer that draws de-occlusion results.

:class:`DeOcclusionVisualizer` is registered in mmdet's ``VISUALIZERS``: put
``visualizer = dict(type='DeOcclusionVisualizer', ...)`` in a config (the
test tool's ``--show-dir`` does it when de-occlusion is attached) and the
``DetVisualizationHook``, ``DetInferencer``-style callers and
``DeOcclusionInferencer`` all draw the same picture per image: the
de-occlusion picture (visible masks coloured, invisible parts hatched and
outlined in the object's colour, ``id:class`` labels) beside the occlusion
graph, with mmdet's ground-truth drawing on the left when asked. Samples
without de-occlusion fields are drawn as mmdet draws them.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer
from mmengine.logging import print_log

from mmdeocc.structures import DeOcclusionResult
from mmdeocc.structures.masks import to_numpy
from .deocclusion_drawing import object_colours, render_deocclusion
from .order_graph import draw_order_graph

#: Pictures of smaller images are drawn enlarged (integer factor, nearest
#: neighbour) to at least this shorter side, so their labels stay readable.
PICTURE_MIN_SIDE = 480


def shown_instances(sample, score_thr: float = 0.0) -> np.ndarray:
    """Indices of the instances a picture shows.

    The de-occluded ones (``pred_instances.deoccluded``, when present) with
    a score of at least ``score_thr`` (when scores are present).

    Args:
        sample (DetDataSample): A de-occluded sample.
        score_thr (float): Least score drawn.

    Returns:
        np.ndarray: int64 indices, ascending.
    """
    pred = sample.pred_instances
    keep = np.ones(len(pred), dtype=bool)
    flags = pred.get('deoccluded', None)
    if flags is not None:
        keep &= to_numpy(flags).astype(bool)
    scores = pred.get('scores', None)
    if scores is not None and score_thr > 0:
        keep &= to_numpy(scores) >= score_thr
    return np.flatnonzero(keep)


def instance_class_names(
        sample,
        classes: Optional[Sequence[str]]) -> Optional[List[Optional[str]]]:
    """Class name of each predicted instance of a sample.

    Args:
        sample (DetDataSample): With ``pred_instances.labels``.
        classes (Sequence[str], optional): Names by label.

    Returns:
        list | None: One name per instance (None for a label without a
        name); None without class names or labels.
    """
    labels = sample.pred_instances.get('labels', None)
    if not classes or labels is None:
        return None
    return [classes[int(k)] if 0 <= int(k) < len(classes) else None
            for k in to_numpy(labels).tolist()]


def deocclusion_pictures(
        image: np.ndarray,
        sample,
        names: Optional[Sequence[Optional[str]]] = None,
        keep: Optional[np.ndarray] = None,
        min_side: int = PICTURE_MIN_SIDE) -> Tuple[np.ndarray, np.ndarray]:
    """The de-occlusion picture and the order-graph picture of a sample.

    Labels and graph nodes carry the instances' indices in the sample, and
    each instance keeps its colour whatever subset is drawn.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR image.
        sample (DetDataSample): With ``pred_instances.amodal_masks`` and
            ``pred_occlusion_order``.
        names (Sequence[str], optional): Per-instance names (all
            instances).
        keep (np.ndarray, optional): Indices to draw (default: all).
        min_side (int): See :func:`render_deocclusion`.

    Returns:
        tuple[np.ndarray, np.ndarray]: BGR pictures.
    """
    result = DeOcclusionResult.from_det_sample(sample)
    modal, amodal, order = (result.modal_masks, result.amodal_masks,
                            result.order)
    if keep is None:
        keep = np.arange(len(modal))
    names = [names[k] for k in keep] if names else None
    colours = object_colours(len(modal))[keep]
    order = order[np.ix_(keep, keep)]
    picture = render_deocclusion(
        image, modal[keep], amodal[keep], order, names, colours,
        ids=keep.tolist(), min_side=min_side)
    graph = draw_order_graph(order, names, colours, ids=keep.tolist())
    return picture, graph


def side_by_side(panels: List[np.ndarray]) -> np.ndarray:
    """Panels left to right, each padded (white) to the tallest height."""
    height = max(p.shape[0] for p in panels)
    padded = [
        cv2.copyMakeBorder(p, 0, height - p.shape[0], 0, 0,
                           cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for p in panels
    ]
    return np.concatenate(padded, axis=1)


def has_deocclusion(sample) -> bool:
    """Whether a data sample carries de-occlusion predictions."""
    return sample is not None and 'pred_instances' in sample and \
        'amodal_masks' in sample.pred_instances and \
        'pred_occlusion_order' in sample


@VISUALIZERS.register_module()
class DeOcclusionVisualizer(DetLocalVisualizer):
    """mmdet's local visualizer, drawing de-occlusion results.

    Same arguments as :class:`mmdet.visualization.DetLocalVisualizer`
    (which draws the ground truth and samples without de-occlusion).

    Args:
        name (str): Instance name (mmengine's visualizer manager).
        min_side (int): Enlarge pictures of smaller images to this shorter
            side (integer factor) so that labels stay readable; 0 keeps the
            image size.
        **kwargs: :class:`~mmdet.visualization.DetLocalVisualizer`
            arguments (``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 min_side: int = PICTURE_MIN_SIDE,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.min_side = int(min_side)
        self._warned_labels = False

    def _drawable_gt(self, sample) -> bool:
        """Whether the sample's ground truth can be drawn with the class
        names (labels beyond them are reported once, not drawn)."""
        if 'gt_instances' not in sample:
            return False
        classes = (self.dataset_meta or {}).get('classes', None)
        labels = sample.gt_instances.get('labels', None)
        if classes is None or labels is None or len(labels) == 0:
            return True
        top = int(labels.max())
        if top < len(classes):
            return True
        if not self._warned_labels:
            self._warned_labels = True
            print_log(
                f'DeOcclusionVisualizer: ground-truth label {top} has no '
                f'class name ({len(classes)} classes in dataset_meta); the '
                'ground truth is not drawn. Give the dataset the classes of '
                'its annotation file.', logger='current', level=30)
        return False

    def draw_deocclusion(self, image: np.ndarray, sample,
                         pred_score_thr: float = 0.3) -> np.ndarray:
        """The de-occlusion picture beside the order graph (RGB).

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
            sample (DetDataSample): A de-occluded sample.
            pred_score_thr (float): Least score drawn.

        Returns:
            np.ndarray: ``(H', W', 3)`` uint8 RGB.
        """
        picture, graph = deocclusion_pictures(
            np.ascontiguousarray(image[..., ::-1]), sample,
            instance_class_names(
                sample, (self.dataset_meta or {}).get('classes', None)),
            shown_instances(sample, pred_score_thr), self.min_side)
        return side_by_side([picture, graph])[..., ::-1]

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw a data sample (mmdet's signature); see the module docstring.

        Args:
            name (str): Image identifier.
            image (np.ndarray): ``(H, W, 3)`` RGB image.
            data_sample (DetDataSample, optional): Ground truth and
                (de-occluded) predictions.
            draw_gt (bool): Draw the ground truth on the left.
            draw_pred (bool): Draw the predictions.
            show (bool): Show the drawing in a window.
            wait_time (float): Seconds the window stays.
            out_file (str, optional): Write the drawing there (else it goes
                to the visualizer's backends).
            pred_score_thr (float): Least score drawn.
            step (int): Global step for the backends.
        """
        if data_sample is not None:
            data_sample = data_sample.cpu()
        if not draw_pred or not has_deocclusion(data_sample):
            super().add_datasample(
                name, image, data_sample, draw_gt=draw_gt,
                draw_pred=draw_pred, show=show, wait_time=wait_time,
                out_file=out_file, pred_score_thr=pred_score_thr, step=step)
            return
        image = image.clip(0, 255).astype(np.uint8)
        panels = [self.draw_deocclusion(image, data_sample, pred_score_thr)]
        if draw_gt and self._drawable_gt(data_sample):
            meta = self.dataset_meta or {}
            gt = self._draw_instances(image, data_sample.gt_instances,
                                      meta.get('classes', None),
                                      meta.get('palette', None))
            scale = panels[0].shape[0] // max(gt.shape[0], 1)
            if scale > 1:
                gt = cv2.resize(gt, None, fx=scale, fy=scale,
                                interpolation=cv2.INTER_NEAREST)
            panels.insert(0, gt)
        drawn = side_by_side(panels) if len(panels) > 1 else panels[0]
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
