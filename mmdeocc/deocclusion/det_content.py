"""Content completion (PCNet-C) of de-occluded detector predictions.

:class:`DetSampleContentCompleter` runs after
:class:`~mmdeocc.deocclusion.det_samples.DetSampleDeOccluder` (it needs
``pred_instances.amodal_masks``) and adds one field to every data sample:

- ``content_layers``: a :class:`~mmdeocc.deocclusion.ContentLayers` with
  the inpainted background and one RGBA layer per **de-occluded** instance
  (``pred_instances.deoccluded``; detections below the score threshold get
  no layer and are not removed from the background), in the order of
  ``pred_instances``; ``content_layers.instance_indices`` gives each
  layer's index in ``pred_instances``.

The input image of each sample, in this order of preference:

1. given to the call (``images=``, RGB uint8), what
   :class:`~mmdeocc.apis.DeOcclusionInferencer` does;
2. read from the sample's ``img_path`` (mmdet's datasets and
   ``inference_detector`` on a file set it), exactly as on disk;
3. (:class:`~mmdeocc.engine.DeOcclusionDetector` only, e.g.
   ``inference_detector`` on an array) rebuilt from the preprocessed batch:
   un-normalised, cropped to ``img_shape`` and resized back to
   ``ori_shape`` (bilinear), so it is the original image up to that resize.

Without any of them the call raises :class:`DetContentError` naming the
sample.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Type, Union

import numpy as np
import torch
from torch import Tensor, nn

from mmdeocc.utils.image_io import read_rgb_image as _read_rgb_image
from .builder import check_options, keyword_arguments
from .content import ContentCompleter, ContentCompletionError, load_pcnet_c
from .det_samples import (LabelToCategory, _describe, _mask_tensor,
                          label_category_table, labels_to_categories)

__all__ = [
    'DetContentError', 'DetSampleContentCompleter', 'content_options',
    'build_det_sample_content_completer', 'read_rgb_image',
    'images_from_batch'
]

#: ContentCompleter arguments that the builders set themselves.
_RESERVED = ('model', 'background_model', 'device')


class DetContentError(ValueError):
    """Content completion cannot run on a data sample (the message names
    the sample and what is missing)."""


def read_rgb_image(path: str,
                   where: str,
                   error_cls: Optional[Type[Exception]] = None) -> np.ndarray:
    """:func:`mmdeocc.utils.image_io.read_rgb_image` raising
    :class:`DetContentError` by default."""
    return _read_rgb_image(path, where, error_cls or DetContentError)


def images_from_batch(batch_inputs: Tensor, data_samples: Sequence[Any],
                      data_preprocessor: nn.Module) -> List[np.ndarray]:
    """Approximate original RGB images from a preprocessed detector batch.

    Undoes mmdet's ``DetDataPreprocessor`` (normalisation, channel
    conversion, padding) and the test pipeline's resize (bilinear, back to
    ``ori_shape``). Flip test-time augmentation is not undone.

    Args:
        batch_inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
        data_samples (Sequence[DetDataSample]): With ``img_shape`` and
            ``ori_shape``.
        data_preprocessor (nn.Module): The detector's preprocessor (its
            ``mean`` / ``std`` buffers and ``_channel_conversion`` flag).

    Returns:
        list[np.ndarray]: ``(H0, W0, 3)`` uint8 RGB images.
    """
    import cv2
    mean = getattr(data_preprocessor, 'mean', None)
    std = getattr(data_preprocessor, 'std', None)
    # mmdet loads BGR; the preprocessor swaps to RGB when asked to.
    is_rgb = bool(getattr(data_preprocessor, '_channel_conversion', False))
    images = []
    for k, sample in enumerate(data_samples):
        height, width = sample.metainfo['img_shape'][:2]
        x = batch_inputs[k, :, :height, :width].detach().float().cpu()
        if mean is not None and std is not None and getattr(
                data_preprocessor, '_enable_normalize', True):
            x = x * std.detach().cpu().reshape(-1, 1, 1) + \
                mean.detach().cpu().reshape(-1, 1, 1)
        array = x.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
        if not is_rgb:
            array = array[..., ::-1]
        ori_h, ori_w = sample.metainfo['ori_shape'][:2]
        if (ori_h, ori_w) != (height, width):
            array = cv2.resize(array, (ori_w, ori_h),
                               interpolation=cv2.INTER_LINEAR)
        images.append(np.ascontiguousarray(array))
    return images


class DetSampleContentCompleter:
    """Add PCNet-C content layers to de-occluded detector predictions.

    See the module docstring for the field written and where the images
    come from. Data samples are modified in place and returned.

    Args:
        completer (ContentCompleter): The content-completion core.
        label_to_category (sequence | dict, optional): mmdet label ->
            dataset category id (needed by PCNet-C models with
            ``use_category``).
    """

    def __init__(self,
                 completer: ContentCompleter,
                 label_to_category: LabelToCategory = None) -> None:
        if not isinstance(completer, ContentCompleter):
            raise DetContentError(
                'completer must be a ContentCompleter, got '
                f'{type(completer).__name__}')
        self.completer = completer
        self.label_to_category = label_category_table(label_to_category)
        if self.label_to_category is None and bool(
                getattr(completer.model, 'use_category', False)):
            raise DetContentError(
                'the PCNet-C model encodes category ids (use_category=True) '
                'but no label_to_category map is set: give the dataset '
                'category id of every detector label')

    def _category_ids(self, labels: Optional[Tensor],
                      where: str) -> Optional[List[int]]:
        if not getattr(self.completer.model, 'use_category', False):
            return None
        return labels_to_categories(self.label_to_category, labels,
                                    where).tolist()

    @staticmethod
    def _image(sample: Any, index: int, images: Optional[Sequence[Any]],
               where: str) -> np.ndarray:
        if images is not None:
            image = images[index]
            if image is not None:
                return image
        path = sample.metainfo.get('img_path') if hasattr(
            sample, 'metainfo') else None
        if not path:
            raise DetContentError(
                f'{where}: content completion needs the original image, but '
                'none was given and the sample has no img_path')
        return read_rgb_image(path, where)

    def __call__(self,
                 data_samples: Sequence[Any],
                 images: Optional[Sequence[Optional[np.ndarray]]] = None
                 ) -> Sequence[Any]:
        """Complete the content of a batch of de-occluded data samples.

        Args:
            data_samples (Sequence[DetDataSample]): Outputs of
                :class:`~mmdeocc.deocclusion.det_samples.DetSampleDeOccluder`.
            images (Sequence[np.ndarray | None], optional): Their original
                images, ``(H, W, 3)`` uint8 **RGB**; None (or a None entry)
                reads the sample's ``img_path``.

        Returns:
            Sequence[DetDataSample]: The same samples with
            ``content_layers``.

        Raises:
            DetContentError: No image, an unreadable image, an image whose
                size differs from the masks, or samples not de-occluded.
        """
        if images is not None and len(images) != len(data_samples):
            raise DetContentError(
                f'{len(images)} images for {len(data_samples)} data samples')
        for index, sample in enumerate(data_samples):
            where = _describe(sample, index)
            pred = sample.get('pred_instances', None)
            amodal = None if pred is None else pred.get('amodal_masks', None)
            if amodal is None:
                raise DetContentError(
                    f'{where}: no pred_instances.amodal_masks; run the '
                    'DetSampleDeOccluder before content completion')
            modal = _mask_tensor(pred.masks, where).cpu()
            amodal = _mask_tensor(amodal, where).cpu()
            flags = pred.get('deoccluded', None)
            keep = (torch.nonzero(torch.as_tensor(flags).cpu().reshape(-1),
                                  as_tuple=True)[0] if flags is not None
                    else torch.arange(len(modal)))
            image = self._image(sample, index, images, where)
            if not isinstance(image, np.ndarray) or image.ndim != 3 or \
                    image.shape[:2] != tuple(modal.shape[1:]):
                shape = getattr(image, 'shape', type(image).__name__)
                raise DetContentError(
                    f'{where}: image of shape {shape} does not match the '
                    f'predicted masks ({modal.shape[1]}x{modal.shape[2]}, '
                    'height x width)')
            labels = pred.get('labels', None)
            cats = self._category_ids(
                None if labels is None else
                torch.as_tensor(labels).reshape(-1).cpu()[keep], where)
            try:
                layers = self.completer(image, modal[keep], amodal[keep],
                                        cats)
            except ContentCompletionError as err:
                raise DetContentError(f'{where}: {err}') from None
            layers.instance_indices = keep.numpy().astype(np.int64)
            sample.content_layers = layers
        return data_samples


def content_options(content: Optional[Mapping[str, Any]] = None
                    ) -> Dict[str, Any]:
    """Validated :class:`~mmdeocc.deocclusion.ContentCompleter` options.

    Args:
        content (Mapping, optional): Options such as ``input_size``,
            ``hole_dilation``, ``keep_visible``, ``background_dilation``,
            ``background_size``, ``batch_size``.

    Returns:
        dict: Keyword arguments (without ``model`` / ``device``).

    Raises:
        DetContentError: Unknown or reserved keys.
    """
    cfg = dict(content or {})
    check_options(
        cfg, keyword_arguments(ContentCompleter, exclude=_RESERVED),
        'content options', DetContentError,
        reserved=dict.fromkeys(
            _RESERVED, 'the PCNet-C checkpoint is given as pcnet_c=<path> '
            'and the device follows the de-occlusion'))
    return cfg


def build_det_sample_content_completer(
        pcnet_c: Union[str, nn.Module],
        content: Optional[Mapping[str, Any]] = None,
        label_to_category: LabelToCategory = None,
        device: Optional[Union[str, torch.device]] = None
) -> DetSampleContentCompleter:
    """Build a :class:`DetSampleContentCompleter` from user settings.

    Args:
        pcnet_c (str | nn.Module): PCNet-C checkpoint (loaded weights-only
            with :func:`~mmdeocc.deocclusion.load_pcnet_c`) or a built
            model.
        content (Mapping, optional): :class:`ContentCompleter` options.
        label_to_category (sequence | dict, optional): Label -> category id.
        device (str | torch.device, optional): Working device (default
            CPU).

    Returns:
        DetSampleContentCompleter: Ready to call on de-occluded samples.

    Raises:
        FileNotFoundError: Missing checkpoint file.
        DetContentError: Bad options or an unusable checkpoint.
    """
    options = content_options(content)
    device = torch.device(device) if device is not None else \
        torch.device('cpu')
    try:
        model = pcnet_c if isinstance(pcnet_c, nn.Module) else load_pcnet_c(
            pcnet_c, device=device)
        completer = ContentCompleter(model, device=device, **options)
    except ContentCompletionError as err:
        raise DetContentError(f'PCNet-C: {err}') from None
    return DetSampleContentCompleter(completer, label_to_category)
