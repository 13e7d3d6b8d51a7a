"""The de-occlusion result of one image: order matrix + amodal masks."""
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from .masks import decode_rle, encode_rles, to_numpy
from .order import drawing_order
from .order import layers as order_layers

ArrayLike = Union[np.ndarray, torch.Tensor]


class ResultFormatError(ValueError):
    """A serialised de-occlusion result is malformed."""


@dataclass
class DeOcclusionResult:
    """Per-image output of :class:`mmdeocc.deocclusion.DeOccluder`.

    Attributes:
        order (np.ndarray | Tensor): ``(N, N)`` int8 antisymmetric order
            matrix; ``order[i, j] = +1`` means i occludes j, ``-1`` i is
            occluded by j, 0 no relation.
        amodal_masks (np.ndarray | Tensor): ``(N, H, W)`` bool amodal masks.
        modal_masks (np.ndarray | Tensor, optional): ``(N, H, W)`` bool
            modal masks the result was computed from.
        labels (np.ndarray | Tensor, optional): ``(N,)`` class labels.
        scores (np.ndarray | Tensor, optional): ``(N,)`` detection scores.
        layers (np.ndarray | Tensor, optional): ``(N,)`` depth layer, 0 =
            front-most (:func:`mmdeocc.structures.order.layers`).
    """
    order: ArrayLike
    amodal_masks: ArrayLike
    modal_masks: Optional[ArrayLike] = None
    labels: Optional[ArrayLike] = None
    scores: Optional[ArrayLike] = None
    layers: Optional[ArrayLike] = None

    def __post_init__(self) -> None:
        n = self.order.shape[0]
        if tuple(self.order.shape) != (n, n):
            raise ValueError(f'order: expected a square matrix, got shape '
                             f'{tuple(self.order.shape)}')
        if len(self.amodal_masks.shape
               ) != 3 or self.amodal_masks.shape[0] != n:
            raise ValueError(f'amodal_masks: expected shape ({n}, H, W), '
                             f'got {tuple(self.amodal_masks.shape)}')
        for name in ('modal_masks', 'labels', 'scores', 'layers'):
            value = getattr(self, name)
            if value is not None and value.shape[0] != n:
                raise ValueError(f'{name}: expected {n} entries, got '
                                 f'{value.shape[0]}')

    @property
    def num_objects(self) -> int:
        """Number of objects ``N``."""
        return int(self.order.shape[0])

    def drawing_order(self) -> np.ndarray:
        """Back-to-front drawing order (cycle-safe).

        Returns:
            np.ndarray: ``(N,)`` int64 permutation; draw ``[0]`` first.
        """
        return drawing_order(self.order)

    @classmethod
    def from_det_sample(cls, sample: Any) -> 'DeOcclusionResult':
        """The result stored on a de-occluded MMDetection ``DetDataSample``.

        Reads ``pred_instances.masks`` (modal), ``pred_instances.
        amodal_masks``, ``labels`` / ``scores`` when present and the
        sample's ``pred_occlusion_order`` (the fields
        :class:`mmdeocc.deocclusion.DetSampleDeOccluder` writes), as numpy
        arrays; ``layers`` are derived from the order.

        Args:
            sample (DetDataSample): A de-occluded data sample.

        Returns:
            DeOcclusionResult: numpy arrays (bool masks, int8 order, int64
            labels and layers, float32 scores).

        Raises:
            ResultFormatError: The sample lacks a de-occlusion field.
        """
        pred = sample.get('pred_instances', None)
        missing = [
            name for name, value in (
                ('pred_instances', pred),
                ('pred_instances.masks',
                 None if pred is None else pred.get('masks', None)),
                ('pred_instances.amodal_masks',
                 None if pred is None else pred.get('amodal_masks', None)),
                ('pred_occlusion_order',
                 sample.get('pred_occlusion_order', None))) if value is None
        ]
        if missing:
            raise ResultFormatError(
                f'data sample is not de-occluded: missing {missing[0]}')
        order = to_numpy(sample.pred_occlusion_order).astype(np.int8)
        labels = pred.get('labels', None)
        scores = pred.get('scores', None)
        return cls(
            order=order,
            amodal_masks=to_numpy(pred.amodal_masks).astype(bool),
            modal_masks=to_numpy(pred.masks).astype(bool),
            labels=None if labels is None else to_numpy(labels).astype(
                np.int64),
            scores=None if scores is None else to_numpy(scores).astype(
                np.float32),
            layers=order_layers(order))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict: masks as compressed COCO RLE, arrays as lists.

        Returns:
            dict: Keys ``height``, ``width``, ``order`` (list of lists),
            ``amodal_masks`` (RLE list) and, when set, ``modal_masks``,
            ``labels``, ``scores``, ``layers``.
        """
        amodal = to_numpy(self.amodal_masks)
        out: Dict[str, Any] = dict(
            height=int(amodal.shape[1]),
            width=int(amodal.shape[2]),
            order=to_numpy(self.order).astype(int).tolist(),
            amodal_masks=encode_rles(amodal.astype(bool)))
        if self.modal_masks is not None:
            out['modal_masks'] = encode_rles(
                to_numpy(self.modal_masks).astype(bool))
        for name in ('labels', 'layers'):
            value = getattr(self, name)
            if value is not None:
                out[name] = to_numpy(value).astype(int).tolist()
        if self.scores is not None:
            out['scores'] = to_numpy(self.scores).astype(float).tolist()
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'DeOcclusionResult':
        """Inverse of :meth:`to_dict` (numpy arrays).

        Args:
            data (dict): A dict written by :meth:`to_dict`, or an
                inferencer record (whose visible masks are under ``masks``,
                mmdet's key).

        Returns:
            DeOcclusionResult: With numpy ``order`` (int8), bool masks,
            int64 ``labels`` / ``layers`` and float32 ``scores``.

        Raises:
            ResultFormatError: Missing keys or inconsistent sizes.
        """
        for key in ('height', 'width', 'order', 'amodal_masks'):
            if key not in data:
                raise ResultFormatError(
                    f'de-occlusion result: missing key "{key}"')
        h, w = int(data['height']), int(data['width'])
        n = len(data['order'])
        order = np.asarray(data['order'], dtype=np.int8).reshape(n, n)

        def masks(key: str) -> np.ndarray:
            rles = data[key]
            if len(rles) != n:
                raise ResultFormatError(
                    f'de-occlusion result: "{key}" has {len(rles)} masks '
                    f'for {n} objects')
            if n == 0:
                return np.zeros((0, h, w), dtype=bool)
            for k, rle in enumerate(rles):
                if list(rle.get('size', [])) != [h, w]:
                    raise ResultFormatError(
                        f'de-occlusion result: "{key}"[{k}] has size '
                        f'{rle.get("size")}, expected [{h}, {w}]')
            return np.stack([decode_rle(r).astype(bool) for r in rles])

        def optional(key: str, dtype) -> Optional[np.ndarray]:
            if data.get(key) is None:
                return None
            return np.asarray(data[key], dtype=dtype)

        modal_key = next((k for k in ('modal_masks', 'masks')
                          if data.get(k) is not None), None)
        return cls(
            order=order,
            amodal_masks=masks('amodal_masks'),
            modal_masks=masks(modal_key) if modal_key else None,
            labels=optional('labels', np.int64),
            scores=optional('scores', np.float32),
            layers=optional('layers', np.int64))
