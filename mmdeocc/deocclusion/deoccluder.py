"""The one inference core every entry point uses: :class:`DeOccluder`."""
import contextlib
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from mmdeocc.structures import DeOcclusionResult
from mmdeocc.structures.order import layers as graph_layers
from mmdeocc.structures.touch import check_gap_tolerance, touching_pairs
from mmdeocc.utils.device import module_device
from mmdeocc.utils.validation import check_choice
from .amodal import completion_amodal
from .baselines import (HULL_CONVENTIONS, area_order, convex_hulls,
                        convex_order, convexr_amodal, raw_amodal, yaxis_order)
from .fast import default_fast_dtype, fast_cpu_sub_batch, prepare_fast_model
from .methods import (AMODAL_METHODS, NETWORK_AMODAL_METHODS,
                      NETWORK_ORDER_METHODS, ORDER_METHODS)
from .ordering import completion_orders
from .scene import DeOcclusionInputError, MaskLike, Scene, as_mask_tensor


class DeOcclusionConfigError(ValueError):
    """A :class:`DeOccluder` option is invalid."""


class DeOccluder:
    """Ordering + amodal completion of the instances of images.

    ``order_method`` x ``amodal_method``:

    * ordering ``'ours'`` (PCNet-M dual completion, METHOD 2.2), ``'area'``
      (smaller on top), ``'area_large'`` (larger on top, as KINS used),
      ``'yaxis'``, ``'convex'`` (METHOD 2.5);
    * amodal ``'ours'`` (OG: eraser = ancestors), ``'ours_nog'`` (NOG:
      eraser = all related objects), ``'raw'``, ``'convex'``, ``'convexr'``
      (hull restricted to the modal mask and its ancestors *under the order
      of* ``order_method``; use ``order_method='convex'`` for the paper's
      Convex^R).

    Everything runs batched: all directed pairs (then all objects) of one
    image, or of many images with :meth:`run_many`, are cropped and go
    through the network ``batch_size`` crops at a time (on CPU in
    sub-batches of ``cpu_batch_size``). Crops and paste-back are exact
    (integer arithmetic) and the network sees each crop alone in its batch
    row, so the result does not depend on the batching (tested bit-exact
    against the sequential reference :mod:`.reference`).

    ``stats`` holds the timing of the last call: ``network_s`` (time inside
    the network calls), ``total_s``, ``crops``, ``network_calls``.

    Args:
        model (nn.Module, optional): A PCNet-M (anything with
            ``predict_probs(modal, eraser, category_ids)``); required for
            ``'ours'`` methods. It is put in eval mode, and moved to
            ``device`` when one is given.
        order_method (str): See above.
        amodal_method (str): See above.
        order_th (float): Foreground threshold of dual completion (0.1).
        amodal_th (float): Foreground threshold of amodal completion (0.2,
            the reference evaluation; the demos used 0.5 / 0.4).
        enlarge_box (float): Crop enlargement (METHOD 1.3).
        min_side_ratio (float): Minimum crop side over box side (1.1).
        gap_tolerance (int | float): Touch test tolerance
            (:mod:`mmdeocc.deocclusion.pairs`): 0 = reference, ``(0, 1)``
            relative to object size, ``>= 1`` pixels.
        eraser_dilation (int): Square kernel dilating the eraser crop (the
            reference's ``dilate_kernel``; 0 = off).
        amodal_union_visible (bool): Unite amodal masks with modal masks
            (not in the reference).
        amodal_restrict_to_eraser (bool): Keep the invisible part inside
            the eraser (not in the reference).
        batch_size (int): Crops gathered per network batch (bounds memory;
            batches may mix pairs / objects of several images).
        fast (bool): Faster, not bit-exact inference on a copy of the model
            (:mod:`mmdeocc.deocclusion.fast`): CUDA fp16 autocast +
            channels-last; CPU with native bf16 (AMX / AVX512-BF16) bf16
            autocast + channels-last; other CPUs fp32 with BatchNorm folded
            into the convolutions + channels-last (bf16 is emulated there
            and several times slower). The caller's model is not modified.
        device (str | torch.device, optional): Working device; default the
            model's device (CPU without a model). Never CUDA implicitly.
        fast_dtype (torch.dtype, optional): Autocast dtype in fast mode,
            overriding the choice above (``torch.float32`` = no autocast).
        input_size (int, optional): Crop side ``S``; default the model's
            ``in_size`` or 256.
        hull_convention (str): Pixel convention of the convex baselines:
            ``'reference'`` (the reference's pixel-diamond hull, default) or
            ``'centres'`` (hull of pixel centres, half a pixel tighter on
            slanted edges; :func:`.baselines.convex_hull_mask`).
        cpu_batch_size (int, optional): On CPU, each batch goes through the
            network in sub-batches of at most this many crops. ``None``
            (default) = ``4 x threads`` with several intra-op threads;
            with one thread 1 in exact mode (the reference's batch-1
            network) and, in fast mode, as many crops as keep
            ``width x S^2 x crops <= 2**17`` (:func:`fast_cpu_sub_batch`:
            16 for the committed width-0.5 / 128-px models, 1 at the
            released width 2 / 256 px). On a 2-core AVX2 CPU, PCNet-M w=2
            ran 0.31 s/crop at sub-batch 1 vs 0.43 at 4-8 with one thread,
            and 0.54 at 8 vs 0.73 at 1 with two (large CPU batches overflow
            the caches; docs/benchmarks.md). Exact-mode results do not
            depend on it.
        flip_tta (bool): Test-time augmentation beyond the paper (off in
            every reference config): average each crop's foreground
            probabilities with those of its horizontal mirror (mirrored
            back) before thresholding; twice the network time.
        order_tie_margin (float, optional): Beyond the paper (None, the
            default, is the reference rule): with ``order_method='ours'``,
            a touching pair whose two growths differ by at most this
            fraction of the larger one (exact ties, e.g. both 0, included)
            takes the convex-hull order (METHOD 2.5) instead, i.e. the
            geometric prior decides where dual completion has no clear
            answer. 0 = exact ties only.
    """

    def __init__(self,
                 model: Optional[nn.Module] = None,
                 order_method: str = 'ours',
                 amodal_method: str = 'ours',
                 order_th: float = 0.1,
                 amodal_th: float = 0.2,
                 enlarge_box: float = 3.0,
                 min_side_ratio: float = 1.1,
                 gap_tolerance: Union[int, float] = 0,
                 eraser_dilation: int = 0,
                 amodal_union_visible: bool = False,
                 amodal_restrict_to_eraser: bool = False,
                 batch_size: int = 64,
                 fast: bool = False,
                 device: Optional[Union[str, torch.device]] = None,
                 fast_dtype: Optional[torch.dtype] = None,
                 input_size: Optional[int] = None,
                 cpu_batch_size: Optional[int] = None,
                 hull_convention: str = 'reference',
                 flip_tta: bool = False,
                 order_tie_margin: Optional[float] = None) -> None:
        check_choice('order_method', order_method, ORDER_METHODS,
                     DeOcclusionConfigError)
        check_choice('hull_convention', hull_convention, HULL_CONVENTIONS,
                     DeOcclusionConfigError)
        check_choice('amodal_method', amodal_method, AMODAL_METHODS,
                     DeOcclusionConfigError)
        needs_model = (
            order_method in NETWORK_ORDER_METHODS
            or amodal_method in NETWORK_AMODAL_METHODS)
        if needs_model and model is None:
            raise DeOcclusionConfigError(
                f'order_method={order_method!r} / amodal_method='
                f'{amodal_method!r} need a PCNet-M model, got model=None')
        if model is not None and not callable(
                getattr(model, 'predict_probs', None)):
            raise DeOcclusionConfigError(
                f'model must provide predict_probs(modal, eraser, '
                f'category_ids), got {type(model).__name__}')
        for name, value in (('order_th', order_th), ('amodal_th', amodal_th)):
            if not 0.0 <= float(value) < 1.0:
                raise DeOcclusionConfigError(
                    f'{name} must be in [0, 1), got {value!r}')
        if enlarge_box <= 0 or min_side_ratio <= 0:
            raise DeOcclusionConfigError(
                'enlarge_box and min_side_ratio must be > 0, got '
                f'{enlarge_box!r}, {min_side_ratio!r}')
        try:
            check_gap_tolerance(gap_tolerance)
        except ValueError as err:
            raise DeOcclusionConfigError(str(err)) from None
        if int(eraser_dilation) != eraser_dilation or eraser_dilation < 0:
            raise DeOcclusionConfigError(
                f'eraser_dilation must be an integer >= 0, got '
                f'{eraser_dilation!r}')
        if order_tie_margin is not None and not (
                isinstance(order_tie_margin, (int, float))
                and 0.0 <= float(order_tie_margin) < 1.0):
            raise DeOcclusionConfigError(
                f'order_tie_margin must be None or in [0, 1), got '
                f'{order_tie_margin!r}')
        for name, value in (('batch_size', batch_size), ('cpu_batch_size',
                                                         cpu_batch_size)):
            if value is None and name == 'cpu_batch_size':
                continue
            if int(value) != value or value < 1:
                raise DeOcclusionConfigError(
                    f'{name} must be an integer >= 1, got {value!r}')

        self.order_method = order_method
        self.amodal_method = amodal_method
        self.order_th = float(order_th)
        self.amodal_th = float(amodal_th)
        self.enlarge_box = float(enlarge_box)
        self.min_side_ratio = float(min_side_ratio)
        self.gap_tolerance = gap_tolerance
        self.eraser_dilation = int(eraser_dilation)
        self.amodal_union_visible = bool(amodal_union_visible)
        self.amodal_restrict_to_eraser = bool(amodal_restrict_to_eraser)
        self.batch_size = int(batch_size)
        self.cpu_batch_size = (None if cpu_batch_size is None else
                               int(cpu_batch_size))
        self.fast = bool(fast)
        self.hull_convention = hull_convention
        self.flip_tta = bool(flip_tta)
        self.order_tie_margin = (None if order_tie_margin is None else
                                 float(order_tie_margin))

        self.model = model
        if device is not None:
            self.device = torch.device(device)
            if model is not None:
                model.to(self.device)
        elif model is not None:
            self.device = module_device(model)
        else:
            self.device = torch.device('cpu')
        if model is not None:
            model.eval()
        if input_size is None:
            input_size = int(getattr(model, 'in_size', 256) or 256)
        self.input_size = int(input_size)
        if fast_dtype is None and self.fast:
            fast_dtype = default_fast_dtype(self.device)
        if fast_dtype == torch.float32:
            fast_dtype = None
        self.fast_dtype = fast_dtype if self.fast else None
        if model is not None and self.fast:
            self.model = prepare_fast_model(model, self.input_size,
                                            self.device)
        self.stats: Dict[str, float] = {}
        self._reset_stats()

    # ------------------------------------------------------------------
    # Network
    # ------------------------------------------------------------------
    def _reset_stats(self) -> None:
        """Zero the timing counters of the last call."""
        self.stats = dict(network_s=0.0, total_s=0.0, crops=0, network_calls=0)

    def _cpu_sub_batch(self) -> int:
        """Network sub-batch on CPU (see ``cpu_batch_size``)."""
        if self.cpu_batch_size is not None:
            return self.cpu_batch_size
        threads = torch.get_num_threads()
        if threads > 1:
            return 4 * threads
        if not self.fast:
            return 1
        unet = getattr(self.model, 'unet', None)
        return fast_cpu_sub_batch(float(getattr(unet, 'width', 2.0)),
                                  self.input_size)

    def _autocast(self):
        """The autocast context of fast mode (a no-op otherwise)."""
        if self.fast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(
            device_type=self.device.type, dtype=self.fast_dtype)

    def _predict(self, modal_in: Tensor, eraser: Tensor,
                 category_ids: Optional[Tensor]) -> Tensor:
        """Foreground probabilities of a batch of crops (timed)."""
        if self.model.training:
            self.model.eval()
        start = time.perf_counter()
        step = modal_in.shape[0]
        if step == 0:
            return modal_in.new_zeros(modal_in.shape, dtype=torch.float32)
        if self.device.type == 'cpu':
            step = min(step, self._cpu_sub_batch())
        probs = []
        with torch.inference_mode(), self._autocast():
            for first in range(0, modal_in.shape[0], step):
                last = first + step
                modal = modal_in[first:last].to(self.device, torch.float32)
                erase = eraser[first:last].to(self.device, torch.float32)
                cats = (
                    category_ids[first:last]
                    if category_ids is not None else None)
                prob = self.model.predict_probs(modal, erase, cats).float()
                self.stats['network_calls'] += 1
                if self.flip_tta:
                    mirrored = self.model.predict_probs(
                        modal.flip(-1), erase.flip(-1), cats).float()
                    prob = (prob + mirrored.flip(-1)) * 0.5
                    self.stats['network_calls'] += 1
                probs.append(prob)
        prob = torch.cat(probs) if len(probs) != 1 else probs[0]
        if prob.device.type == 'cuda':
            torch.cuda.synchronize(prob.device)
        self.stats['network_s'] += time.perf_counter() - start
        self.stats['crops'] += int(modal_in.shape[0])
        return prob

    # ------------------------------------------------------------------
    # Scenes
    # ------------------------------------------------------------------
    def _scene(self,
               masks: MaskLike,
               category_ids=None,
               where: str = 'masks') -> Scene:
        """Validate one image's inputs and prepare them."""
        masks = as_mask_tensor(masks, self.device, where)
        return Scene.build(masks, category_ids, self.enlarge_box,
                           self.min_side_ratio, self.device)

    def _touches(self, scenes: Sequence[Scene]) -> List[Tensor]:
        """Touch matrices of the scenes (METHOD 2.1 / gap tolerance)."""
        return [
            touching_pairs(s.masks, self.gap_tolerance, s.packed, s.bboxes)
            for s in scenes
        ]

    def _orders(self, scenes: Sequence[Scene]) -> List[Tensor]:
        """Order matrices with ``order_method``."""
        touches = self._touches(scenes)
        if self.order_method == 'ours':
            fallbacks = None
            if self.order_tie_margin is not None:
                fallbacks = [
                    convex_order(scene.masks, touch, packed=scene.packed,
                                 hull_convention=self.hull_convention)
                    for scene, touch in zip(scenes, touches)
                ]
            return completion_orders(
                scenes,
                self._predict,
                touches,
                order_th=self.order_th,
                eraser_dilation=self.eraser_dilation,
                batch_size=self.batch_size,
                size=self.input_size,
                tie_margin=self.order_tie_margin,
                fallbacks=fallbacks)
        out = []
        for scene, touch in zip(scenes, touches):
            if self.order_method in ('area', 'area_large'):
                out.append(
                    area_order(scene.masks, touch,
                               self.order_method == 'area_large'))
            elif self.order_method == 'yaxis':
                out.append(yaxis_order(scene.masks, touch))
            else:
                out.append(
                    convex_order(scene.masks, touch, packed=scene.packed,
                                 hull_convention=self.hull_convention))
        return out

    def _amodals(self, scenes: Sequence[Scene],
                 orders: Sequence[Tensor]) -> List[Tensor]:
        """Amodal masks with ``amodal_method``."""
        if self.amodal_method in NETWORK_AMODAL_METHODS:
            return completion_amodal(
                scenes,
                orders,
                self._predict,
                method='og' if self.amodal_method == 'ours' else 'nog',
                amodal_th=self.amodal_th,
                eraser_dilation=self.eraser_dilation,
                union_visible=self.amodal_union_visible,
                restrict_to_eraser=self.amodal_restrict_to_eraser,
                batch_size=self.batch_size,
                size=self.input_size)
        out = []
        for scene, order in zip(scenes, orders):
            if self.amodal_method == 'raw':
                out.append(raw_amodal(scene.masks))
            elif self.amodal_method == 'convex':
                out.append(convex_hulls(scene.masks, self.hull_convention))
            else:
                out.append(
                    convexr_amodal(scene.masks, order, packed=scene.packed,
                                   hull_convention=self.hull_convention))
        return out

    def _check_order(self, order: Union[np.ndarray, Tensor],
                     num: int) -> Tensor:
        """Validate an order matrix given by the caller."""
        order = torch.as_tensor(
            np.asarray(order) if not isinstance(order, Tensor) else order)
        if tuple(order.shape) != (num, num):
            raise DeOcclusionInputError(
                f'order: expected shape ({num}, {num}) for {num} masks, got '
                f'{tuple(order.shape)}')
        if bool(((order < -1) | (order > 1)).any()):
            raise DeOcclusionInputError('order: values must be -1, 0 or 1')
        if bool((order != -order.T).any()):
            raise DeOcclusionInputError('order: must be antisymmetric')
        return order.to(self.device, torch.int8)

    @staticmethod
    def _output_device(masks: MaskLike) -> torch.device:
        """Results go back to the input's device (CPU for numpy)."""
        if isinstance(masks, Tensor):
            return masks.device
        return torch.device('cpu')

    # ------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------
    def order(self, masks: MaskLike, category_ids=None) -> Tensor:
        """Occlusion order of one image.

        Args:
            masks (np.ndarray | Tensor): ``(N, H, W)`` bool/{0,1} modal
                masks.
            category_ids (sequence, optional): ``(N,)`` dataset category ids
                (used by models with ``use_category``).

        Returns:
            Tensor: ``(N, N)`` int8 antisymmetric order matrix.
        """
        return self.order_many([(masks, category_ids)])[0]

    def order_many(
        self, items: Sequence[Union[MaskLike, Tuple[MaskLike, Any]]]
    ) -> List[Tensor]:
        """Occlusion orders of many images, network crops batched across
        them (results identical to :meth:`order` per image).

        Args:
            items (Sequence): Per image, ``(masks, category_ids)`` or just
                ``masks`` (see :meth:`run_many`).

        Returns:
            list[Tensor]: ``(N, N)`` int8 order matrices, on each input's
            device.
        """
        self._reset_stats()
        start = time.perf_counter()
        scenes, devices = self._scenes(items)
        orders = self._orders(scenes)
        self.stats['total_s'] = time.perf_counter() - start
        return [order.to(device) for order, device in zip(orders, devices)]

    def amodal(self,
               masks: MaskLike,
               order: Union[np.ndarray, Tensor],
               category_ids=None) -> Tensor:
        """Amodal masks of one image under a given order.

        Args:
            masks (np.ndarray | Tensor): ``(N, H, W)`` modal masks.
            order (np.ndarray | Tensor): ``(N, N)`` order matrix.
            category_ids (sequence, optional): ``(N,)`` category ids.

        Returns:
            Tensor: ``(N, H, W)`` bool amodal masks.
        """
        return self.amodal_many([(masks, category_ids)], [order])[0]

    def amodal_many(
        self, items: Sequence[Union[MaskLike, Tuple[MaskLike, Any]]],
        orders: Sequence[Union[np.ndarray, Tensor]]
    ) -> List[Tensor]:
        """Amodal masks of many images under given orders, network crops
        batched across them (results identical to :meth:`amodal`).

        Args:
            items (Sequence): Per image, ``(masks, category_ids)`` or just
                ``masks`` (see :meth:`run_many`).
            orders (Sequence): One ``(N, N)`` order matrix per image.

        Returns:
            list[Tensor]: ``(N, H, W)`` bool amodal masks, on each input's
            device.
        """
        if len(orders) != len(items):
            raise DeOcclusionInputError(
                f'orders: expected one order matrix per image '
                f'({len(items)}), got {len(orders)}')
        self._reset_stats()
        start = time.perf_counter()
        scenes, devices = self._scenes(items)
        orders = [
            self._check_order(order, scene.num)
            for order, scene in zip(orders, scenes)
        ]
        amodals = self._amodals(scenes, orders)
        self.stats['total_s'] = time.perf_counter() - start
        return [mask.to(device) for mask, device in zip(amodals, devices)]

    def _scenes(
        self, items: Sequence[Union[MaskLike, Tuple[MaskLike, Any]]]
    ) -> Tuple[List[Scene], List[torch.device]]:
        """Validated scenes of ``items`` and their output devices."""
        scenes, devices = [], []
        for k, item in enumerate(items):
            if isinstance(item, (tuple, list)):
                if len(item) != 2:
                    raise DeOcclusionInputError(
                        f'items[{k}]: expected (masks, category_ids), got a '
                        f'sequence of length {len(item)}')
                masks, cats = item
            else:
                masks, cats = item, None
            where = 'masks' if len(items) == 1 else f'items[{k}] masks'
            scenes.append(self._scene(masks, cats, where))
            devices.append(self._output_device(masks))
        return scenes, devices

    def __call__(self,
                 masks: MaskLike,
                 category_ids=None) -> DeOcclusionResult:
        """Order + amodal masks of one image (see :meth:`run_many`)."""
        return self.run_many([(masks, category_ids)])[0]

    def run_many(
        self, items: Sequence[Union[MaskLike, Tuple[MaskLike, Any]]]
    ) -> List[DeOcclusionResult]:
        """De-occlude many images; network items are batched across them.

        Args:
            items (Sequence): Per image, ``(masks, category_ids)`` (ids may
                be None) or just ``masks``; masks ``(N, H, W)`` bool/{0,1}.

        Returns:
            list[DeOcclusionResult]: Per image: ``order`` (N, N) int8,
            ``amodal_masks`` (N, H, W) bool, ``modal_masks`` (the input as
            bool) and ``layers`` (N,) int64, on the input's device.
        """
        self._reset_stats()
        start = time.perf_counter()
        scenes, devices = self._scenes(items)
        orders = self._orders(scenes)
        amodals = self._amodals(scenes, orders)
        results = []
        for scene, order, amodal, device in zip(scenes, orders, amodals,
                                                devices):
            results.append(
                DeOcclusionResult(
                    order=order.to(device),
                    amodal_masks=amodal.to(device),
                    modal_masks=scene.masks.to(device),
                    layers=torch.from_numpy(graph_layers(order)).to(device)))
        self.stats['total_s'] = time.perf_counter() - start
        return results
