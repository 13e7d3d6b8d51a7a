"""Amodal-constrained content completion (METHOD 3.5), batched over objects.

For every object i with a non-empty invisible part (amodal minus modal):

1. crop the image in i's window (the core's crop rule,
   :func:`mmdeocc.structures.integer_crop_boxes` of the modal box, as
   :class:`~mmdeocc.deocclusion.scene.Scene`), bicubic resize to ``S``
   (:func:`~mmdeocc.datasets.transforms.pcnet_c_inputs.crop_resize_image`,
   the helper PCNet-C's training data uses), ImageNet-normalise;
2. crop modal and amodal masks in the same window (bilinear then ``> 0.5``,
   exact, :func:`~mmdeocc.structures.image_ops.crop_union`);
   ``hole = dilate(amodal minus modal, hole_dilation x hole_dilation)``
   (5 x 5 in the reference);
3. run PCNet-C on ``[rgb * (1 - hole), modal * category]``; composite
   ``(1 - hole) * rgb + hole * output``; un-normalise; resize back bicubic;
4. build i's RGBA layer: alpha = amodal ∪ modal (the layer always shows the
   object's own visible pixels, even where the predicted amodal mask misses
   some); colour = the input image, except on i's **fill mask**, where it
   is the completed colour.

Fill mask (the only pixels of a layer that may differ from the image):
``F_i = (paste(hole) ∪ (amodal_i minus modal_i)) ∩ window_i``, where
``paste`` resizes the ``S x S`` hole back to the window (bilinear,
``> 0.5``, :func:`~mmdeocc.structures.image_ops.paste_patches`). With
``keep_visible=True`` (the default) ``F_i`` further excludes ``modal_i``.

About the dilation (``keep_visible``): the network's hole is dilated, as in
the reference, so that it does not read the thin band of the object's
visible region next to its occluder, where mask edges are imprecise and
pixels mix both objects' colours; otherwise those colours would be
propagated into the invisible part. The reference then also *pastes* the
completion over that band, i.e. it alters a few pixels of the object's own
visible region (up to ``hole_dilation // 2 * side / S`` image pixels from
the invisible part). ``keep_visible=True`` (default) pastes only outside
the visible region: visible pixels stay bit-identical to the input, which
re-composition relies on to reproduce untouched objects exactly.
``keep_visible=False`` is the reference behaviour.

Background (a layer without alpha): the union of all modal masks, dilated
by a ``background_dilation`` square, is inpainted over the whole image. The
image is resized (``interpolation``) so that its longer side is
``background_size`` (default ``2 S``) and both sides are multiples of the
generator's size divisor (128); the hole is carried over conservatively (a
network pixel is hole if any image pixel under it is), the network fills
it, the result is resized back and pasted on the hole only. The network is
``background_model`` when given (any model with PCNet-C's ``complete``
method, e.g. a PCNet-C trained for scene inpainting - the reference ships a
separate KINS background model), else PCNet-C itself with an **empty modal
channel** (no object to condition on).

Guarantee (tested): the layers differ from the input image only on their
fill masks and the background only on its hole; every other pixel is
bit-identical.

Everything runs on the working device in batches of ``batch_size`` crops;
objects without an invisible part are not sent through the network (their
layer is the image; the reference runs them and gets the same composite up
to the resize round trip).
"""
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdeocc.models import load_pcnet_c
from mmdeocc.structures import ContentLayers, DeOcclusionResult
from mmdeocc.structures.content_layers import (ContentCompletionError,
                                               check_rgb_image)
from mmdeocc.structures.image_ops import (INTERPOLATIONS, crop_resize_image,
                                          crop_union, denormalize_rgb,
                                          dilate_square, inpaint_telea,
                                          normalize_rgb, paste_patches,
                                          paste_resize_image)
from mmdeocc.structures.packed_masks import PackedMasks
from mmdeocc.utils import module_device
from mmdeocc.utils.validation import check_choice
from .scene import DeOcclusionInputError, Scene, as_mask_tensor

# ContentLayers, ContentCompletionError (mmdeocc.structures) and load_pcnet_c
# (mmdeocc.models) are re-exported: they were defined here.
__all__ = [
    'ContentLayers', 'ContentCompleter', 'ContentCompletionError',
    'load_pcnet_c', 'network_size'
]


def network_size(height: int, width: int, longer: int,
                 divisor: int) -> Tuple[int, int]:
    """Network input size of a whole image (background inpainting).

    Args:
        height (int): Image height.
        width (int): Image width.
        longer (int): Target length of the longer side.
        divisor (int): Both sides are rounded to a multiple of it (>= 1x).

    Returns:
        tuple[int, int]: ``(net_height, net_width)``.
    """
    scale = float(longer) / max(height, width)

    def fit(length: int) -> int:
        return max(divisor, int(round(length * scale / divisor)) * divisor)

    return fit(height), fit(width)


def _size_divisor(model: nn.Module) -> int:
    generator = getattr(model, 'generator', None)
    return int(getattr(generator, 'size_divisor', 128))


class ContentCompleter:
    """Content completion of objects and background with PCNet-C.

    Args:
        model (nn.Module): A :class:`~mmdeocc.models.PCNetC` (anything with
            ``complete(rgb_norm, hole, modal, category)``); put in eval mode.
        background_model (nn.Module, optional): Model for the background
            (same interface); default ``model`` with an empty modal channel.
        input_size (int, optional): Crop side ``S`` (a multiple of 128);
            default the model's ``in_size`` (the size it was trained at;
            256 for the released weights).
        enlarge_box (float): Crop rule area factor (METHOD 1.3).
        min_side_ratio (float): Crop rule minimum side ratio.
        hole_dilation (int): Square kernel dilating the crop's hole (5, the
            reference; 0 or 1 = none).
        keep_visible (bool): Never change an object's visible pixels (see
            the module docstring). False = reference.
        background_dilation (int): Square kernel dilating the union of the
            modal masks for the background hole (image pixels).
        background_size (int, optional): Longer side of the background
            network input; default ``2 * input_size``.
        interpolation (str): ``'bicubic'`` (reference) or ``'bilinear'``.
        background_inpainting (str): ``'network'`` (the module docstring's
            PCNet-C background, the reference) or ``'telea'`` (OpenCV's
            Telea inpainting of the same hole: for images unlike the
            network's training photos, e.g. the flat backgrounds of the
            synthetic scenes, where a photo-trained PCNet-C leaves dark
            ghosts of the removed objects).
        batch_size (int): Crops per network call.
        device (str | torch.device, optional): Working device of the
            networks; default the model's.
    """

    def __init__(self,
                 model: nn.Module,
                 background_model: Optional[nn.Module] = None,
                 input_size: Optional[int] = None,
                 enlarge_box: float = 3.0,
                 min_side_ratio: float = 1.1,
                 hole_dilation: int = 5,
                 keep_visible: bool = True,
                 background_dilation: int = 5,
                 background_size: Optional[int] = None,
                 interpolation: str = 'bicubic',
                 background_inpainting: str = 'network',
                 batch_size: int = 16,
                 device: Optional[Union[str, torch.device]] = None) -> None:
        for name, value in (('model', model), ('background_model',
                                               background_model)):
            if value is not None and not callable(
                    getattr(value, 'complete', None)):
                raise ContentCompletionError(
                    f'{name} must provide complete(rgb_norm, hole, modal, '
                    f'category) (a PCNetC), got {type(value).__name__}')
        if model is None:
            raise ContentCompletionError('model: a PCNet-C model is required')
        divisor = _size_divisor(model)
        if input_size is None:
            input_size = int(getattr(model, 'in_size', 256))
        if int(input_size) != input_size or input_size < divisor or \
                input_size % divisor:
            raise ContentCompletionError(
                f'input_size must be a positive multiple of {divisor}, got '
                f'{input_size!r}')
        for name, value in (('hole_dilation', hole_dilation),
                            ('background_dilation', background_dilation)):
            if int(value) != value or value < 0:
                raise ContentCompletionError(
                    f'{name} must be an integer >= 0, got {value!r}')
        check_choice('interpolation', interpolation, sorted(INTERPOLATIONS),
                     ContentCompletionError)
        check_choice('background_inpainting', background_inpainting,
                     ['network', 'telea'], ContentCompletionError)
        self.background_inpainting = background_inpainting
        if int(batch_size) != batch_size or batch_size < 1:
            raise ContentCompletionError(
                f'batch_size must be an integer >= 1, got {batch_size!r}')
        if enlarge_box <= 0 or min_side_ratio <= 0:
            raise ContentCompletionError(
                'enlarge_box and min_side_ratio must be > 0')
        self.device = torch.device(device) if device is not None else \
            module_device(model)
        self.model = model.to(self.device).eval()
        self.background_model = None if background_model is None else \
            background_model.to(self.device).eval()
        self.input_size = int(input_size)
        self.enlarge_box = float(enlarge_box)
        self.min_side_ratio = float(min_side_ratio)
        self.hole_dilation = int(hole_dilation)
        self.keep_visible = bool(keep_visible)
        self.background_dilation = int(background_dilation)
        bg_divisor = _size_divisor(self.background_model or model)
        if background_size is None:
            background_size = 2 * self.input_size
        if int(background_size) != background_size or \
                background_size < bg_divisor:
            raise ContentCompletionError(
                f'background_size must be an integer >= {bg_divisor}, got '
                f'{background_size!r}')
        self.background_size = int(background_size)
        self.interpolation = interpolation
        self.batch_size = int(batch_size)

    # ------------------------------------------------------------------
    # network calls
    # ------------------------------------------------------------------
    @staticmethod
    def _categories(model: nn.Module,
                    category_ids: Optional[Tensor]) -> Optional[Tensor]:
        """Category ids to pass to ``model.complete`` (None when the model
        does not use them)."""
        if not getattr(model, 'use_category', False):
            return None
        if category_ids is None:
            raise ContentCompletionError(
                'category_ids: the PCNet-C model has use_category=True and '
                'needs the dataset category id of every object')
        return category_ids

    def _complete(self, model: nn.Module, rgb: np.ndarray, hole: Tensor,
                  modal: Tensor, category: Optional[Tensor]) -> np.ndarray:
        """Run ``model.complete`` on normalised crops; return un-normalised
        float32 ``(B, h, w, 3)`` composites."""
        if model.training:
            model.eval()
        rgb_t = torch.from_numpy(
            np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))).to(self.device)
        with torch.no_grad():
            out = model.complete(rgb_t, hole.to(self.device, torch.float32),
                                 modal.to(self.device, torch.float32),
                                 category)
        return denormalize_rgb(out.float().cpu().numpy().transpose(0, 2, 3, 1))

    # ------------------------------------------------------------------
    # objects
    # ------------------------------------------------------------------
    def complete_objects(
        self,
        image: np.ndarray,
        modal_masks: Any,
        amodal_masks: Any,
        category_ids: Optional[Sequence[int]] = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Complete the invisible part of every object.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            modal_masks (np.ndarray | Tensor): ``(N, H, W)`` visible masks.
            amodal_masks (np.ndarray | Tensor): ``(N, H, W)`` amodal masks.
            category_ids (Sequence[int], optional): ``(N,)`` dataset ids
                (needed by models with ``use_category``).

        Returns:
            tuple[np.ndarray, np.ndarray]: ``rgb`` ``(N, H, W, 3)`` uint8
            and ``fill_masks`` ``(N, H, W)`` bool (see the module doc).
        """
        modal = as_mask_tensor(modal_masks, 'cpu', 'modal_masks')
        amodal = as_mask_tensor(amodal_masks, 'cpu', 'amodal_masks')
        if amodal.shape != modal.shape:
            raise ContentCompletionError(
                f'amodal_masks {tuple(amodal.shape)} and modal_masks '
                f'{tuple(modal.shape)} differ in shape')
        n, height, width = modal.shape
        image = check_rgb_image(image, height, width)
        try:
            scene = Scene.build(modal, category_ids, self.enlarge_box,
                                self.min_side_ratio, 'cpu')
        except DeOcclusionInputError as err:
            raise ContentCompletionError(str(err)) from None
        rgb = np.broadcast_to(image, (n, ) + image.shape).copy()
        fill = torch.zeros((n, height, width), dtype=torch.bool)
        invisible = amodal & ~modal
        objects = torch.nonzero(
            scene.nonempty & invisible.flatten(1).any(1), as_tuple=True)[0]
        if objects.numel() == 0:
            return rgb, fill.numpy()
        packed_amodal = PackedMasks.from_masks(amodal)
        windows = scene.windows[objects]
        selectors = scene.packed.selectors_from_indices(objects)
        size = self.input_size
        for start in range(0, objects.numel(), self.batch_size):
            stop = min(start + self.batch_size, objects.numel())
            obj = objects[start:stop]
            win = windows[start:stop]
            sel = selectors[start:stop]
            modal_crop = crop_union(scene.packed, win, sel, size, 'bilinear')
            amodal_crop = crop_union(packed_amodal, win, sel, size, 'bilinear')
            hole = dilate_square(amodal_crop & ~modal_crop, self.hole_dilation)
            crops = np.stack([
                normalize_rgb(
                    crop_resize_image(
                        image, w, size, interpolation=self.interpolation))
                for w in win.tolist()
            ])
            cats = None if scene.category_ids is None else \
                scene.category_ids[obj]
            composite = self._complete(self.model, crops, hole, modal_crop,
                                       self._categories(self.model, cats))
            paste_patches(hole, win, fill, obj)
            for k, index in enumerate(obj.tolist()):
                region, (ya, yb, xa,
                         xb) = paste_resize_image(composite[k],
                                                  win[k].tolist(), height,
                                                  width, self.interpolation)
                if yb <= ya or xb <= xa:
                    fill[index] = False
                    continue
                mask = fill[index]
                mask[ya:yb, xa:xb] |= invisible[index, ya:yb, xa:xb]
                inside = torch.zeros_like(mask)
                inside[ya:yb, xa:xb] = True
                mask &= inside
                if self.keep_visible:
                    mask &= ~modal[index]
                local = mask[ya:yb, xa:xb].numpy()
                values = np.clip(np.rint(region), 0, 255).astype(np.uint8)
                rgb[index, ya:yb, xa:xb][local] = values[local]
        return rgb, fill.numpy()

    # ------------------------------------------------------------------
    # background
    # ------------------------------------------------------------------
    def background_hole(self, modal_masks: Any) -> np.ndarray:
        """Union of the modal masks dilated by ``background_dilation``.

        Args:
            modal_masks (np.ndarray | Tensor): ``(N, H, W)`` visible masks.

        Returns:
            np.ndarray: ``(H, W)`` bool.
        """
        modal = as_mask_tensor(modal_masks, 'cpu', 'modal_masks')
        union = modal.any(0, keepdim=True)
        return dilate_square(union, self.background_dilation)[0].numpy()

    def inpaint_background(self, image: np.ndarray,
                           hole: np.ndarray) -> np.ndarray:
        """Fill ``hole`` of the whole image (see the module docstring).

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            hole (np.ndarray): ``(H, W)`` bool pixels to fill.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8, ``image`` outside ``hole``.
        """
        hole = np.asarray(hole, dtype=bool)
        image = check_rgb_image(image, *hole.shape)
        background = image.copy()
        if not hole.any():
            return background
        if self.background_inpainting == 'telea':
            return inpaint_telea(background, hole)
        import cv2
        model = self.background_model or self.model
        height, width = hole.shape
        net_h, net_w = network_size(height, width, self.background_size,
                                    _size_divisor(model))
        flag = INTERPOLATIONS[self.interpolation]
        small = cv2.resize(image, (net_w, net_h), interpolation=flag)
        hole_small = F.adaptive_max_pool2d(
            torch.from_numpy(hole)[None, None].float(), (net_h, net_w))[:,
                                                                        0] > 0
        category = None
        if getattr(model, 'use_category', False):
            # The modal channel is empty: any valid category gives the same
            # input (0 * value); pick one the model accepts.
            mapping = getattr(model, 'category_map', None)
            category = torch.tensor([next(iter(mapping)) if mapping else 1])
        composite = self._complete(model,
                                   normalize_rgb(small)[None], hole_small,
                                   torch.zeros_like(hole_small), category)[0]
        full = cv2.resize(composite, (width, height), interpolation=flag)
        values = np.clip(np.rint(full[hole]), 0, 255).astype(np.uint8)
        background[hole] = values
        return background

    # ------------------------------------------------------------------
    # everything
    # ------------------------------------------------------------------
    def __call__(
            self,
            image: np.ndarray,
            modal_masks: Any,
            amodal_masks: Any,
            category_ids: Optional[Sequence[int]] = None) -> ContentLayers:
        """Object layers and background of one image.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 **RGB** (read with
                ``mmcv.imread(path, channel_order='rgb')``).
            modal_masks (np.ndarray | Tensor): ``(N, H, W)`` visible masks.
            amodal_masks (np.ndarray | Tensor): ``(N, H, W)`` amodal masks
                (e.g. ``DeOccluder(...)(masks).amodal_masks``).
            category_ids (Sequence[int], optional): ``(N,)`` dataset ids.

        Returns:
            ContentLayers: The completed layers.
        """
        rgb, fill = self.complete_objects(image, modal_masks, amodal_masks,
                                          category_ids)
        modal = as_mask_tensor(modal_masks, 'cpu', 'modal_masks').numpy()
        amodal = as_mask_tensor(amodal_masks, 'cpu', 'amodal_masks').numpy()
        hole = self.background_hole(modal)
        background = self.inpaint_background(image, hole)
        return ContentLayers(
            image=np.ascontiguousarray(image),
            background=background,
            background_hole=hole,
            rgb=rgb,
            fill_masks=fill,
            alpha=amodal | modal,
            modal_masks=modal,
            amodal_masks=amodal,
            background_dilation=self.background_dilation)

    def from_result(
            self,
            image: np.ndarray,
            result: DeOcclusionResult,
            category_ids: Optional[Sequence[int]] = None) -> ContentLayers:
        """Content layers of a :class:`DeOcclusionResult`.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            result (DeOcclusionResult): With ``modal_masks`` set (as
                ``DeOccluder`` returns it).
            category_ids (Sequence[int], optional): ``(N,)`` dataset ids.

        Returns:
            ContentLayers: The completed layers.
        """
        if result.modal_masks is None:
            raise ContentCompletionError(
                'result.modal_masks is None: give the modal masks (use '
                'ContentCompleter(image, modal_masks, amodal_masks))')
        return self(image, result.modal_masks, result.amodal_masks,
                    category_ids)
