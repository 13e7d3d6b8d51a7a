"""Surrogate occlusion: the self-supervised PCNet training sample (METHOD 1.4).
"""
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet.registry import TRANSFORMS
from mmdeocc.structures import square_crop_boxes
from mmdeocc.structures.geometry import (DEFAULT_ENLARGE_BOX,
                                         DEFAULT_MIN_SIDE_RATIO)
from mmdeocc.utils.validation import check_choice
from .crop import (crop_resize_nearest, integer_window, shifted_overlap,
                   translate)

ON_FAILURE_CHOICES = ('resample', 'keep_last')
Crop = Tuple[int, int, int, bool]
Box = Tuple[int, int, int, int]


@TRANSFORMS.register_module()
class SurrogateOcclusion(BaseTransform):
    """Erase part of a target instance with another instance (the eraser).

    Steps (METHOD 1.3-1.4; ``S`` = ``size``):

    1. Crop windows: square, centred on the modal box centre, side
       ``max(sqrt(w * h * enlarge_box), min_side_ratio * w,
       min_side_ratio * h)`` (:func:`mmdeocc.structures.square_crop_boxes`,
       integer rounding of :func:`mmdeocc.structures.integer_crop_boxes`).
       With ``augment``: the target's centre moves by ``U(shift_range) *
       side`` in x and in y independently; each crop's side is divided by
       its own ``U(scale_range)``; each crop is mirrored with ``flip_prob``.
       Masks are cropped with zero padding and resized to ``S`` with nearest
       sampling.
    2. Eraser placement: ``overlap ~ U(overlap_range)``, ``offx ~
       U(overlap - 1, 1 - overlap)``, ``offy = ±(1 - overlap / (1 -
       |offx|))`` (random sign); the eraser patch is translated by
       ``(int(-offx * S), int(-offy * S))`` with zero fill. Accepted when
       the covered fraction ``|target ∩ eraser| / |target|`` is in
       ``[covered_range[0], covered_range[1])``; up to ``max_tries``
       placements per eraser.
    3. Case 1 with probability ``eraser_front_prob`` (eraser in front):
       input = target minus eraser, eraser unchanged. Case 2 (eraser
       behind): eraser = eraser minus target, input = full target. The
       label is the full target in both cases.

    Failed placements: the reference keeps the last failed attempt. With
    ``on_failure='resample'`` (default) a new eraser instance is drawn from
    ``results['eraser_sampler']`` (with a fresh scale/flip) and placed
    again, up to ``max_eraser_draws`` erasers in all; if every one fails
    (or there is no sampler) the last attempt is kept, as the reference
    does, and ``results['placement_ok']`` is False. ``on_failure=
    'keep_last'`` is the reference behaviour. If the augmented target
    patch is empty (thin masks can fall between nearest samples), the
    target augmentation is redrawn up to ``max_target_draws`` times, then
    the un-augmented crop is used.

    Required keys:

    - ``target_inst``, ``eraser_inst``: instance dicts with ``mask``
      (``(h, w)`` binary), ``offset`` (``(x, y)`` image position of
      ``mask[0, 0]``; ``(0, 0)`` for a full-image mask), ``bbox`` (modal
      ``[x, y, w, h]``), ``category_id``; optionally ``crop_square``
      (precomputed ``(cx, cy, side)``, used when ``crop_rule`` equals
      ``(enlarge_box, min_side_ratio)`` of this transform).
    - ``rng`` (optional): ``numpy.random.Generator`` used for every draw;
      without it the transform's own generator (``seed``) is used.
    - ``eraser_sampler`` (optional): callable ``rng -> instance dict``.

    Added keys (documented for PCNet-C, which crops RGB with the same
    geometry):

    - ``target_mask`` (uint8 ``(S, S)``): the full target, the label.
    - ``modal_input`` (uint8 ``(S, S)``): the network's modal input.
    - ``eraser_mask`` (uint8 ``(S, S)``): the eraser in the target's canvas
      (after case 2's subtraction).
    - ``target_crop`` / ``eraser_crop``: ``(x0, y0, side, flip)``: square
      window in the instance's own image (pixels, may extend outside it)
      and whether the resized patch was mirrored. To crop the RGB image:
      pad with zeros, take ``[y0:y0+side, x0:x0+side]``, resize to ``S``,
      mirror if ``flip``.
    - ``eraser_shift``: ``(dx, dy)``: translation of the resized (and
      mirrored) eraser patch in the target canvas (``out[y, x] =
      patch[y - dy, x - dx]``).
    - ``occlusion_case``: 1 (eraser in front) or 2 (eraser behind).
    - ``covered_fraction`` (float), ``placement_ok`` (bool),
      ``eraser_draws`` (int: erasers tried), ``eraser_inst`` (the eraser
      finally used), ``category_id`` (the target's).

    Args:
        size (int): Output side ``S``. Defaults to 256.
        enlarge_box (float): Crop rule area factor. Defaults to 3.
        min_side_ratio (float): Crop rule minimum side ratio (1.1).
        augment (bool): Apply shift/scale/flip. Defaults to True.
        shift_range (tuple[float, float]): Target centre shift, in sides.
        scale_range (tuple[float, float]): Sides are divided by a draw.
        flip_prob (float): Horizontal flip probability per crop.
        overlap_range (tuple[float, float]): ``overlap`` draw range.
        covered_range (tuple[float, float]): Accepted covered fraction,
            ``[low, high)``.
        max_tries (int): Placements per eraser. Defaults to 100.
        eraser_front_prob (float): Probability of case 1. Defaults to 0.8
            (1.0 gives PCNet-C's always-case-1 samples).
        on_failure (str): ``'resample'`` or ``'keep_last'`` (reference).
        max_eraser_draws (int): Erasers tried per sample with
            ``'resample'`` (the first included). Defaults to 10.
        max_target_draws (int): Redraws of an empty augmented target.
        seed (int, optional): Seed of the fallback generator.
    """

    def __init__(self,
                 size: int = 256,
                 enlarge_box: float = DEFAULT_ENLARGE_BOX,
                 min_side_ratio: float = DEFAULT_MIN_SIDE_RATIO,
                 augment: bool = True,
                 shift_range: Tuple[float, float] = (-0.2, 0.2),
                 scale_range: Tuple[float, float] = (0.8, 1.2),
                 flip_prob: float = 0.5,
                 overlap_range: Tuple[float, float] = (0.4, 1.0),
                 covered_range: Tuple[float, float] = (0.001, 0.9),
                 max_tries: int = 100,
                 eraser_front_prob: float = 0.8,
                 on_failure: str = 'resample',
                 max_eraser_draws: int = 10,
                 max_target_draws: int = 10,
                 seed: Optional[int] = None) -> None:
        check_choice('on_failure', on_failure, ON_FAILURE_CHOICES)
        if size < 1 or max_tries < 1 or max_eraser_draws < 1 or \
                max_target_draws < 0:
            raise ValueError('size, max_tries and max_eraser_draws must be '
                             '>= 1 and max_target_draws >= 0')
        if not 0.0 <= eraser_front_prob <= 1.0 or not 0.0 <= flip_prob <= 1:
            raise ValueError('eraser_front_prob and flip_prob must be in '
                             '[0, 1]')
        if not 0.0 <= overlap_range[0] <= overlap_range[1] <= 1.0:
            raise ValueError(f'overlap_range must satisfy 0 <= low <= high '
                             f'<= 1, got {overlap_range}')
        if scale_range[0] <= 0:
            raise ValueError(f'scale_range must be positive, got '
                             f'{scale_range}')
        self.size = int(size)
        self.enlarge_box = float(enlarge_box)
        self.min_side_ratio = float(min_side_ratio)
        self.augment = bool(augment)
        self.shift_range = tuple(float(v) for v in shift_range)
        self.scale_range = tuple(float(v) for v in scale_range)
        self.flip_prob = float(flip_prob)
        self.overlap_range = tuple(float(v) for v in overlap_range)
        self.covered_range = tuple(float(v) for v in covered_range)
        self.max_tries = int(max_tries)
        self.eraser_front_prob = float(eraser_front_prob)
        self.on_failure = on_failure
        self.max_eraser_draws = int(max_eraser_draws)
        self.max_target_draws = int(max_target_draws)
        self._rng = np.random.default_rng(seed)

    # ------------------------------------------------------------ crops
    def _square(self, inst: Dict[str, Any]) -> Tuple[float, float, float]:
        """``(cx, cy, side)`` of the crop rule; reuses the instance's
        precomputed ``crop_square`` when it was made with the same rule."""
        square = inst.get('crop_square')
        if square is not None and inst.get('crop_rule') == (
                self.enlarge_box, self.min_side_ratio):
            return square
        bbox = np.asarray(inst['bbox'], dtype=np.float64).reshape(1, 4)
        cx, cy, side = square_crop_boxes(bbox, self.enlarge_box,
                                         self.min_side_ratio)[0]
        return float(cx), float(cy), float(side)

    def _crop(self, inst: Dict[str, Any], rng: np.random.Generator,
              shift: bool, augment: bool) -> Tuple[np.ndarray, Crop, Box]:
        """Resized patch of one instance, its crop ``(x0, y0, side, flip)``
        and a box ``(x0, y0, x1, y1)`` of the patch containing its
        foreground."""
        cx, cy, side = self._square(inst)
        flip = False
        if augment:
            # one draw per crop: scale, flip (, shift x, shift y)
            u = rng.random(4 if shift else 2).tolist()
            if shift:
                low, high = self.shift_range
                cx += (low + (high - low) * u[2]) * side
                cy += (low + (high - low) * u[3]) * side
            low, high = self.scale_range
            side /= low + (high - low) * u[0]
            flip = u[1] < self.flip_prob
        window = integer_window(cx, cy, side)
        patch, extent = crop_resize_nearest(inst['mask'], inst['offset'],
                                            window, self.size, flip,
                                            return_extent=True)
        return patch, (*window, flip), extent

    def _crop_target(self, inst: Dict[str, Any], rng: np.random.Generator
                     ) -> Tuple[np.ndarray, Crop, Box, int]:
        """Target patch, crop, foreground box and area (redrawn if empty)."""
        tries = self.max_target_draws + 1 if self.augment else 0
        for _ in range(tries):
            patch, crop, box = self._crop(inst, rng, shift=True, augment=True)
            area = int(np.count_nonzero(patch))
            if area:
                return patch, crop, box, area
        patch, crop, box = self._crop(inst, rng, shift=False, augment=False)
        return patch, crop, box, int(np.count_nonzero(patch))

    # ------------------------------------------------------------ placement
    def _place(self, target: np.ndarray, target_box: Tuple[int, int, int,
                                                           int],
               target_area: int, eraser: np.ndarray,
               rng: np.random.Generator) -> Tuple[int, int, float, bool]:
        """Try placements; return ``(dx, dy, covered, accepted)``."""
        size = self.size
        low, high = self.covered_range
        draws = rng.random((self.max_tries, 3))
        ov_lo, ov_hi = self.overlap_range
        dx = dy = 0
        covered = 0.0
        for u_overlap, u_offx, u_sign in draws:
            overlap = ov_lo + (ov_hi - ov_lo) * u_overlap
            offx = (overlap - 1.0) + 2.0 * (1.0 - overlap) * u_offx
            offy = 1.0 - overlap / (1.0 - abs(offx))
            if u_sign < 0.5:
                offy = -offy
            dx, dy = int(-offx * size), int(-offy * size)
            if target_area:
                covered = shifted_overlap(target, target_box, eraser, dx,
                                          dy) / target_area
            if low <= covered < high:
                return dx, dy, covered, True
        return dx, dy, covered, False

    # ------------------------------------------------------------ main
    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Build the surrogate-occlusion sample.

        Args:
            results (dict): See the class docstring for required keys.

        Returns:
            dict: ``results`` with the added keys.
        """
        rng = results.get('rng')
        if rng is None:
            rng = self._rng
        target, target_crop, target_box, target_area = self._crop_target(
            results['target_inst'], rng)
        sampler: Optional[Callable] = results.get('eraser_sampler')
        eraser_inst = results['eraser_inst']
        draws = 0
        while True:
            draws += 1
            eraser, eraser_crop, _ = self._crop(
                eraser_inst, rng, shift=False, augment=self.augment)
            dx, dy, covered, ok = self._place(target, target_box,
                                              target_area, eraser, rng)
            if ok or self.on_failure == 'keep_last' or sampler is None \
                    or draws >= self.max_eraser_draws or target_area == 0:
                break
            eraser_inst = sampler(rng)
        eraser = translate(eraser, dx, dy)
        if rng.random() < self.eraser_front_prob:
            case = 1
            modal = target & ~eraser
        else:
            case = 2
            eraser = eraser & ~target
            modal = target.copy()
        results.update(
            target_mask=target.view(np.uint8),
            modal_input=modal.view(np.uint8),
            eraser_mask=eraser.view(np.uint8),
            target_crop=target_crop,
            eraser_crop=eraser_crop,
            eraser_shift=(dx, dy),
            occlusion_case=case,
            covered_fraction=float(covered),
            placement_ok=bool(ok),
            eraser_draws=draws,
            eraser_inst=eraser_inst,
            category_id=int(results['target_inst']['category_id']))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'enlarge_box={self.enlarge_box}, '
                f'min_side_ratio={self.min_side_ratio}, '
                f'augment={self.augment}, '
                f'eraser_front_prob={self.eraser_front_prob}, '
                f'on_failure={self.on_failure!r}, '
                f'max_eraser_draws={self.max_eraser_draws})')
