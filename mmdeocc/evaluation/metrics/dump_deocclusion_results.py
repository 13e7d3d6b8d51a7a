"""Dump de-occlusion predictions (order + RLE amodal masks) to a pickle."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmdeocc.structures import encode_rles
from mmdeocc.utils.io import atomic_pickle_dump
from .sample_fields import get_field, to_mask_array

#: Per-instance mask fields stored as RLE lists.
MASK_KEYS = ('masks', 'amodal_masks')
#: Data-sample keys kept besides ``pred_instances`` and the order.
META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')


def _to_plain(value: Any) -> Any:
    """Tensors to numpy; nested data elements to dicts."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if hasattr(value, 'to_dict') and not isinstance(value, dict):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


@METRICS.register_module()
class DumpDeOcclusionResults(BaseMetric):
    """Write de-occlusion predictions to a pickle file (no metric).

    One dict per image, in evaluation order::

        dict(img_id=..., img_path=..., ori_shape=(H, W), ...,
             pred_instances=dict(masks=[RLE, ...], amodal_masks=[RLE, ...],
                                 scores=np.ndarray, labels=..., ...),
             pred_occlusion_order=np.ndarray (N, N) int8,
             content_layers=dict(...))  # only with content completion


    Unlike mmdet's ``DumpDetResults`` (which only compresses ``masks``),
    both ``masks`` and ``amodal_masks`` are stored as COCO RLE dicts with
    ``str`` counts (``mmdeocc.structures.decode_rle`` reads them back);
    other per-instance tensors become numpy arrays; ground truth is not
    stored. Content layers (``DeOcclusionHook(pcnet_c=...)``) are stored in
    the compact, lossless form of :meth:`mmdeocc.deocclusion.ContentLayers.
    to_dict` (masks as RLE, only the completed pixels' colours);
    ``ContentLayers.from_dict(image, record['content_layers'])`` rebuilds
    them with the image. The file is written atomically (a temp file
    renamed over the destination), so a reader never sees a partial pickle.

    Args:
        out_file_path (str): Output path ending in ``.pkl`` or ``.pickle``.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        collect_dir (str, optional): Folder for collecting across ranks.
    """

    def __init__(self,
                 out_file_path: str,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device, collect_dir=collect_dir)
        if not out_file_path.endswith(('.pkl', '.pickle')):
            raise ValueError(
                f'out_file_path must end with .pkl or .pickle, got '
                f'{out_file_path!r}')
        self.out_file_path = out_file_path

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Convert and store the predictions of a batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence): Data samples with ``pred_instances``
                and optionally ``pred_occlusion_order``.
        """
        for sample in data_samples:
            record: Dict[str, Any] = {}
            for key in META_KEYS:
                value = get_field(sample, key)
                if value is not None:
                    record[key] = _to_plain(value)
            pred = get_field(sample, 'pred_instances')
            if pred is not None:
                pred = _to_plain(pred)
                shape = record.get('ori_shape')
                for key in MASK_KEYS:
                    if key in pred and not _is_rle_list(pred[key]):
                        masks = to_mask_array(
                            pred[key], shape,
                            f'img_id={record.get("img_id")}: '
                            f'pred_instances.{key}')
                        pred[key] = encode_rles(masks)
                record['pred_instances'] = pred
            order = get_field(sample, 'pred_occlusion_order')
            if order is not None:
                record['pred_occlusion_order'] = np.asarray(
                    _to_plain(order)).astype(np.int8)
            layers = get_field(sample, 'content_layers')
            if layers is not None:
                record['content_layers'] = layers if isinstance(
                    layers, dict) else layers.to_dict()
            self.results.append(record)

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict:
        """Write the collected predictions.

        Args:
            results (list[dict]): Outputs of :meth:`process`.

        Returns:
            dict: Empty (nothing to log).
        """
        atomic_pickle_dump(results, self.out_file_path)
        MMLogger.get_current_instance().info(
            f'De-occlusion results of {len(results)} images written to '
            f'{self.out_file_path}')
        return {}


def _is_rle_list(value: Any) -> bool:
    """True for a list of RLE dicts (already encoded)."""
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, dict) and 'counts' in v for v in value)
