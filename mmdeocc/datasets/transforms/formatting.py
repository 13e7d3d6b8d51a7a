"""Packing of surrogate-occlusion samples into PCNet-M training inputs."""
from typing import Any, Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackPCNetInputs(BaseTransform):
    """Pack ``SurrogateOcclusion`` output into the PCNet-M training sample.

    Output (``docs/design.md``)::

        dict(inputs=FloatTensor (2, S, S),     # [modal_input, eraser_mask]
             data_samples=dict(target=UInt8Tensor (S, S),
                               category_id=int))

    Batches collated with MMEngine's ``default_collate`` become
    ``inputs (B, 2, S, S)`` float and ``data_samples = dict(target=(B, S, S)
    uint8, category_id=(B,) int64)``.

    Args:
        meta_keys (Sequence[str]): Extra ``results`` keys copied into
            ``data_samples`` (e.g. ``('occlusion_case',)``); they must be
            collatable. Defaults to none, which is what ``PCNetM`` expects.
    """

    def __init__(self, meta_keys: Sequence[str] = ()) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Pack one sample.

        Args:
            results (dict): Needs ``modal_input``, ``eraser_mask``,
                ``target_mask`` (``(S, S)`` binary arrays) and
                ``category_id``.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        for key in ('modal_input', 'eraser_mask', 'target_mask',
                    'category_id'):
            if key not in results:
                raise KeyError(f'PackPCNetInputs: results has no "{key}"; '
                               'put SurrogateOcclusion before it')
        inputs = np.empty((2, ) + results['modal_input'].shape, np.float32)
        inputs[0] = results['modal_input']
        inputs[1] = results['eraser_mask']
        target = np.ascontiguousarray(results['target_mask'], dtype=np.uint8)
        data_samples = dict(
            target=torch.from_numpy(target),
            category_id=int(results['category_id']))
        for key in self.meta_keys:
            data_samples[key] = results[key]
        return dict(inputs=torch.from_numpy(inputs), data_samples=data_samples)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
