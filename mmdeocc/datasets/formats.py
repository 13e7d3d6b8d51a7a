"""One entry point over the annotation readers, selected by a format name."""
from typing import Any, Callable, Dict, List, Tuple

from .amodal_coco import load_amodal_coco
from .coco import load_coco_modal
from .cocoa import load_cocoa
from .kins import load_kins

Reader = Callable[..., Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]]

#: ``data_format`` name -> reader. Every reader takes
#: ``(path, img_prefix='', on_invalid='skip')`` and returns
#: ``(records, categories)``.
READERS: Dict[str, Reader] = {
    'kins': load_kins,
    'cocoa': load_cocoa,
    'coco': load_coco_modal,
    'amodal_coco': load_amodal_coco,
}


def load_annotations(path: str,
                     data_format: str,
                     img_prefix: str = '',
                     on_invalid: str = 'skip',
                     **kwargs: Any
                     ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Read an annotation file of the given format into canonical records.

    Args:
        path (str): Annotation file.
        data_format (str): One of ``'kins'`` (both releases), ``'cocoa'``,
            ``'coco'`` (any modal COCO instances file), ``'amodal_coco'``
            (the mmdeocc amodal format).
        img_prefix (str): Directory joined before each ``file_name``.
        on_invalid (str): ``'skip'`` or ``'raise'`` (see the readers).
        **kwargs: Extra reader arguments (e.g. ``ico_smaller_is_nearer``).

    Returns:
        tuple[list[dict], list[dict]]: ``(records, categories)``.
    """
    if data_format not in READERS:
        raise ValueError(f'unknown data_format {data_format!r}; choose one '
                         f'of {sorted(READERS)}')
    return READERS[data_format](
        path, img_prefix=img_prefix, on_invalid=on_invalid, **kwargs)
