"""Image-level datasets over the canonical records (used for evaluation).

Each dataset's ``data_list`` is the list of canonical image records of its
reader (``docs/design.md``), with two MMDetection keys added to every
instance so that MMDetection's ``LoadAnnotations`` and metrics work
unchanged: ``bbox`` (the modal box as ``[x1, y1, x2, y2]``) and ``mask``
(the modal RLE). Fully occluded instances (``recoverable=False``) get
``ignore_flag=1`` in the MMDetection view only when
``ignore_unrecoverable=True``; by default they keep ``ignore_flag=0`` so
that metrics see every object (METHOD 4.3).

Config example::

    dataset=dict(type='COCOAmodalDataset',
                 data_root='data/cocoa/',
                 ann_file='annotations/COCO_amodal_val2014.json',
                 data_prefix=dict(img='val2014/'),
                 test_mode=True, pipeline=[...])
"""
from typing import Any, Dict, List, Optional

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS

from .formats import load_annotations


class AmodalImageDataset(BaseDetDataset):
    """Base class: reads ``ann_file`` with the reader of ``DATA_FORMAT``.

    Args:
        on_invalid (str): ``'skip'`` (logged count) or ``'raise'`` for
            invalid annotations; see the readers.
        ignore_unrecoverable (bool): Set ``ignore_flag=1`` on fully occluded
            instances (empty modal mask). Default False.
        reader_kwargs (dict, optional): Extra reader arguments.
        **kwargs: ``BaseDetDataset`` arguments (``ann_file``, ``data_root``,
            ``data_prefix=dict(img=...)``, ``filter_cfg``, ``pipeline``,
            ``test_mode``, ``lazy_init``, ...). ``filter_cfg`` supports
            ``filter_empty_gt`` (drop images without instances, train mode
            only) and ``min_size`` (drop images smaller than this).
    """

    DATA_FORMAT = ''

    def __init__(self,
                 *args: Any,
                 on_invalid: str = 'skip',
                 ignore_unrecoverable: bool = False,
                 reader_kwargs: Optional[Dict[str, Any]] = None,
                 **kwargs: Any) -> None:
        self.on_invalid = on_invalid
        self.ignore_unrecoverable = ignore_unrecoverable
        self.reader_kwargs = dict(reader_kwargs or {})
        self.categories: List[Dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def _img_prefix(self) -> str:
        prefix = self.data_prefix.get('img', self.data_prefix.get(
            'img_path', ''))
        return prefix or ''

    def load_data_list(self) -> List[Dict[str, Any]]:
        """Read the canonical records and add MMDetection instance keys.

        Returns:
            list[dict]: Canonical records.
        """
        records, categories = load_annotations(
            self.ann_file,
            self.DATA_FORMAT,
            img_prefix=self._img_prefix(),
            on_invalid=self.on_invalid,
            **self.reader_kwargs)
        self.categories = list(categories)
        if 'classes' not in self._metainfo:
            names = [
                str(c.get('name', c['id']))
                for c in sorted(categories, key=lambda c: int(c['id']))
            ]
            self._metainfo['classes'] = tuple(names)
        self.cat_ids = sorted(int(c['id']) for c in categories)
        self.cat2label = {cid: i for i, cid in enumerate(self.cat_ids)}
        for record in records:
            for inst in record['instances']:
                x, y, w, h = inst['modal_bbox']
                inst['bbox'] = [x, y, x + w, y + h]
                inst['mask'] = inst['modal_mask']
                if self.ignore_unrecoverable and not inst['recoverable']:
                    inst['ignore_flag'] = 1
        return records

    def filter_data(self) -> List[Dict[str, Any]]:
        """Apply ``filter_cfg`` (not in test mode).

        Returns:
            list[dict]: Kept records.
        """
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = []
        for record in self.data_list:
            if filter_empty_gt and not record['instances']:
                continue
            if min(record['width'], record['height']) < min_size:
                continue
            kept.append(record)
        return kept


@DATASETS.register_module()
class KINSAmodalDataset(AmodalImageDataset):
    """KINS (older ``instances_*.json`` or ``update_*_2020.json`` release,
    auto-detected); see :func:`mmdeocc.datasets.load_kins`. Class names come
    from the file's ``categories`` (sorted by id) unless ``metainfo`` gives
    them."""

    DATA_FORMAT = 'kins'


@DATASETS.register_module()
class COCOAmodalDataset(AmodalImageDataset):
    """COCOA (``COCO_amodal_*.json``); see
    :func:`mmdeocc.datasets.load_cocoa`. One class (``'object'``, id 1)."""

    DATA_FORMAT = 'cocoa'


@DATASETS.register_module()
class CocoModalDataset(AmodalImageDataset):
    """Any COCO instances file, modal masks only; see
    :func:`mmdeocc.datasets.load_coco_modal`."""

    DATA_FORMAT = 'coco'


@DATASETS.register_module()
class AmodalCocoDataset(AmodalImageDataset):
    """The mmdeocc amodal COCO format; see
    :func:`mmdeocc.datasets.load_amodal_coco`."""

    DATA_FORMAT = 'amodal_coco'
