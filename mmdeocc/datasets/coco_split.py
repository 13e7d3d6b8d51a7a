"""Split a COCO-style instances file by image into two files.

Used to hold photos out of self-supervised training, so that a model can be
evaluated on objects it has never seen (``tools/dataset_converters/
split_coco.py``; docs/results.md "Held-out COCO128 objects").
"""
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from .annotation_utils import AnnotationFormatError, require_keys

CocoDict = Dict[str, Any]


def split_coco_by_image(data: CocoDict,
                        holdout_ids: Iterable[int] = (),
                        num_holdout: Optional[int] = None,
                        seed: int = 0,
                        source: str = 'annotations'
                        ) -> Tuple[CocoDict, CocoDict]:
    """Split a COCO dict into a kept part and a held-out part, by image.

    The held-out part is ``holdout_ids`` plus, when ``num_holdout`` is
    larger than their number, images drawn without replacement (sorted by
    id, then ``numpy.random.default_rng(seed)``) from the others. Every
    annotation follows its image; ``categories``, ``info`` and ``licenses``
    are copied to both parts, and image and annotation order is kept.

    Args:
        data (dict): The parsed instances file (``images``, ``annotations``,
            ``categories``).
        holdout_ids (Iterable[int]): Image ids that must be held out.
        num_holdout (int, optional): Total number of held-out images
            (default: just ``holdout_ids``).
        seed (int): Seed of the random part of the draw.
        source (str): Name of the file, for error messages.

    Returns:
        tuple[dict, dict]: ``(kept, held_out)`` COCO dicts.

    Raises:
        AnnotationFormatError: Missing fields, an unknown id in
            ``holdout_ids`` or a ``num_holdout`` that cannot be met.
    """
    require_keys(data, ('images', 'annotations', 'categories'), source)
    image_ids = [img['id'] for img in data['images']]
    known = set(image_ids)
    forced = sorted(set(int(i) for i in holdout_ids))
    unknown = [i for i in forced if i not in known]
    if unknown:
        raise AnnotationFormatError(
            f'{source}: held-out image ids {unknown[:10]} are not in its '
            '"images"')
    total = len(forced) if num_holdout is None else int(num_holdout)
    if total < len(forced) or total >= len(known):
        raise AnnotationFormatError(
            f'{source}: cannot hold out {total} of {len(known)} images with '
            f'{len(forced)} named ids (need named <= held out < all)')
    rest = sorted(known.difference(forced))
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(rest), size=total - len(forced), replace=False)
    held = set(forced).union(rest[i] for i in drawn)
    return _subset(data, known.difference(held)), _subset(data, held)


def _subset(data: CocoDict, image_ids: Sequence[int]) -> CocoDict:
    """The part of ``data`` that belongs to ``image_ids``."""
    keep = set(image_ids)
    out = {k: v for k, v in data.items() if k not in ('images',
                                                      'annotations')}
    out['images'] = [img for img in data['images'] if img['id'] in keep]
    out['annotations'] = [
        ann for ann in data['annotations'] if ann.get('image_id') in keep
    ]
    return out
