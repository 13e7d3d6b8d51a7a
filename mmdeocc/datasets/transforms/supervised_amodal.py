"""PCNet-Sup training samples: ground-truth amodal supervision (METHOD 2.5).

PCNet-Sup is "the same UNet trained with ground-truth amodal masks", the
supervised upper bound of the amodal tables. Its sample mirrors the
inference-time OG input exactly:

* channel 0: the target's modal mask, zeroed inside the eraser;
* channel 1 (eraser): the union of the modal masks of the objects that
  occlude the target in the ground truth - its ground-truth *ancestors*
  (every object occluding it directly or transitively);
* label: the target's ground-truth amodal mask.

Non-occluder samples (``nonoccluder_prob``, the counterpart of PCNet-M's
case 2, "eraser behind"): with that probability the eraser also contains the
modal masks of the objects that touch the target without occluding it (the
dataset's ``nonoccluder_mask``: mostly objects behind it), minus the
target's own pixels; the label stays the amodal mask, so the model learns
not to grow into an eraser region that does not hide the target. At test
time the eraser comes from a *predicted* order, in which a wrongly ordered
neighbour joins the eraser; trained only on true occluders
(``nonoccluder_prob=0``, the first recipe), PCNet-Sup fills such a
neighbour (one of the two causes found for the first checkpoint falling
below OG; the other was its BatchNorm statistics: ``docs/results.md``).

All three are cropped with the same window as PCNet-M training (the crop
rule of METHOD 1.3 around the target's modal box, with the same shift /
scale / flip augmentation), by :class:`SurrogateOcclusion`'s own crop code,
and packed by ``PackPCNetInputs`` into the usual PCNet-M training sample,
so ``PCNetM`` trains on it unchanged (the loss weights the eraser region,
where the invisible part lies, with ``inmask_weight``). The instance dicts
come from :class:`mmdeocc.datasets.SupervisedAmodalInstanceDataset`, which
adds the amodal mask and the ancestors' union to each target.

At test time PCNet-Sup runs in the OG pipeline: the eraser of an object is
the union of its ancestors under the *evaluated* ordering (see
:mod:`mmdeocc.evaluation.deocclusion_evaluator`, ``sup_order``).
"""
from typing import Any, Dict, Optional, Tuple

import numpy as np

from mmdet.registry import TRANSFORMS
from mmdeocc.structures.geometry import (DEFAULT_ENLARGE_BOX,
                                         DEFAULT_MIN_SIDE_RATIO)
from .crop import crop_resize_nearest
from .surrogate_occlusion import SurrogateOcclusion

#: Keys a target instance dict must carry (besides SurrogateOcclusion's).
SUPERVISION_KEYS = ('amodal_mask', 'amodal_offset', 'occluder_mask',
                    'occluder_offset')
#: Further keys needed when ``nonoccluder_prob > 0``.
NONOCCLUDER_KEYS = ('nonoccluder_mask', 'nonoccluder_offset')


@TRANSFORMS.register_module()
class SupervisedAmodalSample(SurrogateOcclusion):
    """Crop a target with its ground-truth occluders and amodal mask.

    Required keys: ``target_inst``, an instance dict with the keys of
    :class:`SurrogateOcclusion` (``mask``, ``offset``, ``bbox``,
    ``category_id``, optional ``crop_square`` / ``crop_rule``) plus
    ``amodal_mask`` / ``amodal_offset`` (the ground-truth amodal mask and
    the image position of its ``[0, 0]`` pixel) and ``occluder_mask`` /
    ``occluder_offset`` (the union of the ground-truth ancestors' modal
    masks, possibly empty), and with ``nonoccluder_prob > 0``
    ``nonoccluder_mask`` / ``nonoccluder_offset`` (the union of the modal
    masks of the touching objects that do not occlude the target, possibly
    empty). Optional ``rng`` (``numpy.random.Generator``).
    ``eraser_inst`` and ``eraser_sampler`` (given by the instance dataset)
    are not used.

    Added keys (same names as :class:`SurrogateOcclusion`, so
    ``PackPCNetInputs`` packs them): ``target_mask`` (uint8 ``(S, S)``: the
    amodal label), ``modal_input`` (uint8: modal minus eraser),
    ``eraser_mask`` (uint8: the ancestors' union, plus the non-occluders'
    union minus the target in case 2), ``target_crop`` (``(x0, y0, side,
    flip)``), ``category_id``, ``occlusion_case`` (1: only occluders in the
    eraser; 2: non-occluders added) and ``covered_fraction`` (share of the
    amodal crop under the eraser).

    Args:
        size (int): Output side ``S``.
        enlarge_box (float): Crop rule area factor (METHOD 1.3).
        min_side_ratio (float): Crop rule minimum side ratio.
        augment (bool): Target shift / scale / flip as PCNet-M training.
        shift_range (tuple[float, float]): Centre shift, in crop sides.
        scale_range (tuple[float, float]): The side is divided by a draw.
        flip_prob (float): Horizontal flip probability.
        max_target_draws (int): Redraws of an empty augmented modal crop.
        nonoccluder_prob (float): Probability of adding the non-occluders
            to the eraser (case 2, module docstring); a sample whose
            non-occluders miss the crop stays case 1. 0 is the first
            recipe (eraser = ancestors only).
        seed (int, optional): Seed of the fallback generator.

    Raises:
        ValueError: ``nonoccluder_prob`` outside ``[0, 1]``.
    """

    def __init__(self,
                 size: int = 256,
                 enlarge_box: float = DEFAULT_ENLARGE_BOX,
                 min_side_ratio: float = DEFAULT_MIN_SIDE_RATIO,
                 augment: bool = True,
                 shift_range: Tuple[float, float] = (-0.2, 0.2),
                 scale_range: Tuple[float, float] = (0.8, 1.2),
                 flip_prob: float = 0.5,
                 max_target_draws: int = 10,
                 nonoccluder_prob: float = 0.2,
                 seed: Optional[int] = None) -> None:
        if not 0.0 <= nonoccluder_prob <= 1.0:
            raise ValueError('SupervisedAmodalSample: nonoccluder_prob must '
                             f'be in [0, 1], got {nonoccluder_prob!r}')
        self.nonoccluder_prob = float(nonoccluder_prob)
        super().__init__(
            size=size,
            enlarge_box=enlarge_box,
            min_side_ratio=min_side_ratio,
            augment=augment,
            shift_range=shift_range,
            scale_range=scale_range,
            flip_prob=flip_prob,
            eraser_front_prob=1.0,
            max_target_draws=max_target_draws,
            seed=seed)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Build the supervised sample.

        Args:
            results (dict): See the class docstring.

        Returns:
            dict: ``results`` with the added keys.
        """
        target_inst = results['target_inst']
        required = SUPERVISION_KEYS + (NONOCCLUDER_KEYS
                                       if self.nonoccluder_prob > 0 else ())
        missing = [k for k in required if k not in target_inst]
        if missing:
            raise KeyError(
                f'SupervisedAmodalSample: target_inst has no {missing}; use '
                "it with dataset type='SupervisedAmodalInstanceDataset', "
                'which adds the ground-truth amodal mask and occluders')
        rng = results.get('rng')
        if rng is None:
            rng = self._rng
        modal, crop, _, _ = self._crop_target(target_inst, rng)
        x0, y0, side, flip = crop
        window = (x0, y0, side)
        amodal = crop_resize_nearest(target_inst['amodal_mask'],
                                     target_inst['amodal_offset'], window,
                                     self.size, flip)
        eraser = crop_resize_nearest(target_inst['occluder_mask'],
                                     target_inst['occluder_offset'], window,
                                     self.size, flip)
        case = 1
        if self.nonoccluder_prob > 0 and \
                rng.random() < self.nonoccluder_prob:
            behind = crop_resize_nearest(target_inst['nonoccluder_mask'],
                                         target_inst['nonoccluder_offset'],
                                         window, self.size, flip) & ~modal
            if behind.any():
                eraser |= behind
                case = 2
        modal_input = modal & ~eraser
        amodal_area = int(np.count_nonzero(amodal))
        covered = (float(np.count_nonzero(amodal & eraser)) / amodal_area
                   if amodal_area else 0.0)
        results.update(
            target_mask=amodal.view(np.uint8),
            modal_input=modal_input.view(np.uint8),
            eraser_mask=eraser.view(np.uint8),
            target_crop=crop,
            occlusion_case=case,
            covered_fraction=covered,
            category_id=int(target_inst['category_id']))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'enlarge_box={self.enlarge_box}, '
                f'min_side_ratio={self.min_side_ratio}, '
                f'augment={self.augment}, '
                f'nonoccluder_prob={self.nonoccluder_prob})')
