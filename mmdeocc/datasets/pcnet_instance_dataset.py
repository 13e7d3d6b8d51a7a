"""Instance-level dataset for PCNet training (METHOD 1.4).

Each item pairs a *target* instance (the indexed one) with an *eraser*
instance drawn uniformly from the whole dataset (any image; it may be the
target itself with probability 1/N, as in the reference) and runs the
pipeline, normally ``SurrogateOcclusion`` then ``PackPCNetInputs``. PCNet-M
never reads images; ``img_path`` is passed along for PCNet-C.
"""
import hashlib
import logging
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmdet.registry import DATASETS, TRANSFORMS
from mmdeocc.structures import square_crop_boxes
from mmdeocc.structures.geometry import (DEFAULT_ENLARGE_BOX,
                                         DEFAULT_MIN_SIDE_RATIO)
from .formats import READERS, load_annotations
from .mask_cache import TightMaskCache


def _build_pipeline(pipeline: Sequence[Union[Dict, Callable]]) -> List:
    """Build transforms with MMDetection's registry (works in any scope)."""
    transforms = []
    for transform in pipeline:
        if isinstance(transform, dict):
            transform = TRANSFORMS.build(transform)
        if not callable(transform):
            raise TypeError(f'pipeline entries must be dicts or callables, '
                            f'got {type(transform).__name__}')
        transforms.append(transform)
    return transforms


def _tight_box(rle: Dict[str, Any]) -> List[int]:
    """Tight ``[x, y, w, h]`` of a compressed RLE (ints)."""
    counts = rle['counts']
    box = mask_utils.toBbox(
        dict(size=rle['size'],
             counts=counts.encode('ascii') if isinstance(counts, str) else
             counts))
    return [int(v) for v in box]


@DATASETS.register_module()
class PCNetInstanceDataset(BaseDataset):
    """Instances with a usable modal mask, each paired with a random eraser.

    Length = number of *usable* instances: non-empty modal mask, not
    ignored, and crop side (METHOD 1.3, before augmentation) >=
    ``min_crop_side``. The annotations come either from ``ann_file`` +
    ``data_format`` or from an image-level ``dataset``.

    Config example (what the training configs use)::

        train_dataloader = dict(
            batch_size=32, num_workers=4,
            sampler=dict(type='InfiniteRoundSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='PCNetInstanceDataset',
                ann_file='data/kins/instances_train.json',
                data_format='kins',      # 'coco' | 'cocoa' | 'kins' |
                                         # 'amodal_coco'
                seed=0,                  # optional, see Determinism
                pipeline=[
                    dict(type='SurrogateOcclusion', size=256),
                    dict(type='PackPCNetInputs')]))

    Items (after ``PackPCNetInputs``): ``dict(inputs=float (2, S, S),
    data_samples=dict(target=uint8 (S, S), category_id=int))``.

    The results dict handed to the pipeline has ``sample_idx``,
    ``sample_round``, ``rng`` (a ``numpy.random.Generator`` that transforms
    must use for all randomness), ``target_inst`` and ``eraser_inst``
    (instance dicts: ``mask`` = ``(h, w)`` bool crop of the modal mask to
    its tight box, ``offset`` = ``(x, y)`` image position of ``mask[0,
    0]``, ``bbox`` = float ``[x, y, w, h]`` modal box of the crop rule
    (the reader's ``modal_bbox``: the tight box, or KINS's annotated box),
    ``img_shape``
    = ``(H, W)``, ``category_id``, ``bbox_label``, ``ann_id``, ``img_id``,
    ``img_path``, ``index``, ``crop_square`` = ``(cx, cy, side)`` of the
    crop rule precomputed with ``crop_rule`` = ``(enlarge_box,
    min_side_ratio)``) and ``eraser_sampler`` (callable ``rng ->``
    a new uniformly drawn eraser instance dict, used by
    ``SurrogateOcclusion`` to resample a failed eraser).

    Determinism: with ``seed`` set, sample ``idx`` uses a PCG64 generator
    whose state is a hash of ``(seed, round, i)`` (:meth:`sample_rng`),
    where ``i = idx % N`` and ``round = idx // N + epoch`` (``epoch`` from
    :meth:`set_epoch`, default 0). It is a pure function of
    ``(seed, round, i)``, so the same tensors come out whatever the number
    of workers or the order of requests. With a plain sampler (indices < N)
    every pass over the data repeats the same draws; use
    ``InfiniteRoundSampler`` (it yields ``round * N + i``) or call
    :meth:`set_epoch` for fresh draws per pass.
    With ``seed=None`` each item seeds its generator from numpy's global
    RNG, which MMEngine seeds per worker from ``randomness=dict(seed=...)``
    (reproducible for a fixed worker count only).

    Masks: each instance's RLE is decoded once per worker, cropped to its
    tight box and kept bit-packed in an LRU cache of ``mask_cache_bytes``
    (see :mod:`mmdeocc.datasets.mask_cache`).

    Args:
        ann_file (str): Annotation file (with ``data_format``).
        data_format (str, optional): ``'coco'``, ``'cocoa'``, ``'kins'`` or
            ``'amodal_coco'``.
        dataset (dict | BaseDataset, optional): An image-level dataset (or
            its config) whose ``data_list`` holds canonical records, e.g.
            ``dict(type='KINSAmodalDataset', ann_file=...)``. Exclusive with
            ``ann_file`` / ``data_format``.
        pipeline (Sequence[dict | callable]): Transforms.
        seed (int, optional): Per-sample RNG seed (>= 0).
        enlarge_box (float, optional): Crop rule factor for the usability
            test; None = take it from the pipeline's ``SurrogateOcclusion``
            (else 3.0).
        min_side_ratio (float, optional): Likewise (else 1.1).
        min_crop_side (float): Instances with a smaller crop side are not
            used. Default 5 (METHOD 1.4).
        mask_cache_bytes (int): Per-process mask cache budget (512 MiB).
        on_invalid (str): Reader policy for invalid annotations.
        reader_kwargs (dict, optional): Extra reader arguments.
        data_root (str): Root joined to ``ann_file`` and the image prefix.
        data_prefix (dict): ``dict(img=...)``: image directory for
            ``img_path``.
        **kwargs: Other ``BaseDataset`` arguments (``lazy_init``,
            ``serialize_data``, ``indices``, ``metainfo``, ...).
    """

    def __init__(self,
                 ann_file: str = '',
                 data_format: Optional[str] = None,
                 dataset: Optional[Union[Dict, BaseDataset]] = None,
                 pipeline: Sequence[Union[Dict, Callable]] = (),
                 seed: Optional[int] = None,
                 enlarge_box: Optional[float] = None,
                 min_side_ratio: Optional[float] = None,
                 min_crop_side: float = 5.0,
                 mask_cache_bytes: int = 512 * 1024**2,
                 on_invalid: str = 'skip',
                 reader_kwargs: Optional[Dict[str, Any]] = None,
                 data_root: str = '',
                 data_prefix: Optional[Dict[str, str]] = None,
                 **kwargs: Any) -> None:
        if dataset is None:
            if not ann_file or data_format is None:
                raise ValueError(
                    'PCNetInstanceDataset needs ann_file and data_format '
                    f'(one of {sorted(READERS)}), or dataset=dict(type=...)')
            if data_format not in READERS:
                raise ValueError(f'unknown data_format {data_format!r}; '
                                 f'choose one of {sorted(READERS)}')
        elif ann_file or data_format is not None:
            raise ValueError('give either dataset or ann_file + data_format, '
                             'not both')
        if seed is not None and (not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f'seed must be a non-negative int or None, got '
                             f'{seed!r}')
        self.data_format = data_format
        self._source_dataset = dataset
        self.seed = None if seed is None else int(seed)
        transforms = _build_pipeline(pipeline)
        self.enlarge_box = self._geometry_arg(enlarge_box, 'enlarge_box',
                                              transforms, DEFAULT_ENLARGE_BOX)
        self.min_side_ratio = self._geometry_arg(min_side_ratio,
                                                 'min_side_ratio', transforms,
                                                 DEFAULT_MIN_SIDE_RATIO)
        self.min_crop_side = float(min_crop_side)
        self.mask_cache_bytes = int(mask_cache_bytes)
        self.on_invalid = on_invalid
        self.reader_kwargs = dict(reader_kwargs or {})
        self._epoch = 0
        self._cache = TightMaskCache(self.mask_cache_bytes)
        self._generator: Optional[np.random.Generator] = None
        self.categories: List[Dict[str, Any]] = []
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img='') if data_prefix is None else data_prefix,
            pipeline=transforms,
            **kwargs)

    @staticmethod
    def _geometry_arg(value: Optional[float], name: str, transforms: List,
                      default: float) -> float:
        if value is not None:
            return float(value)
        for transform in transforms:
            if hasattr(transform, name):
                return float(getattr(transform, name))
        return default

    # ------------------------------------------------------------ loading
    def _load_records(self) -> List[Dict[str, Any]]:
        if self._source_dataset is None:
            prefix = self.data_prefix.get('img', '') or ''
            records, categories = load_annotations(
                self.ann_file,
                self.data_format,
                img_prefix=prefix,
                on_invalid=self.on_invalid,
                **self.reader_kwargs)
            self.categories = list(categories)
            return records
        dataset = self._source_dataset
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
            self._source_dataset = dataset
        dataset.full_init()
        self.categories = list(getattr(dataset, 'categories', []))
        return [dataset.get_data_info(i) for i in range(len(dataset))]

    def load_data_list(self) -> List[Dict[str, Any]]:
        """Flatten the canonical records into usable instances.

        Returns:
            list[dict]: One entry per usable instance with ``img_id``,
            ``img_path``, ``height``, ``width``, ``ann_id``,
            ``category_id``, ``bbox_label``, ``bbox`` (modal ``[x, y, w,
            h]`` of the crop rule: the reader's ``modal_bbox``), ``mask_box``
            (the mask's tight box, ints, where it is stored),
            ``crop_square`` (``(cx, cy, side)`` of the crop rule) and
            ``counts`` (compressed RLE bytes).
        """
        records = self._load_records()
        if 'classes' not in self._metainfo and self.categories:
            self._metainfo['classes'] = tuple(
                str(c.get('name', c['id']))
                for c in sorted(self.categories, key=lambda c: int(c['id'])))
        candidates, boxes = [], []
        stats: Counter = Counter()
        for record in records:
            for inst in record['instances']:
                stats['instances'] += 1
                if inst.get('ignore_flag', 0):
                    stats['ignored'] += 1
                    continue
                if not inst.get('recoverable', True) or \
                        inst['modal_bbox'][2] <= 0 or \
                        inst['modal_bbox'][3] <= 0:
                    stats['empty modal mask'] += 1
                    continue
                candidates.append((record, inst))
                boxes.append(inst['modal_bbox'])
        if not candidates:
            raise ValueError(
                f'{self.ann_file or type(self._source_dataset).__name__}: no '
                f'instance with a non-empty modal mask ({dict(stats)})')
        # Crop boxes as annotated (KINS: the file's modal box, as the
        # reference); the mask is stored inside its own tight box.
        boxes = np.asarray(boxes, dtype=np.float64)
        squares = square_crop_boxes(boxes, self.enlarge_box,
                                    self.min_side_ratio)
        data_list = []
        for (record, inst), box, square in zip(candidates, boxes, squares):
            if square[2] < self.min_crop_side:
                stats[f'crop side < {self.min_crop_side:g} px'] += 1
                continue
            counts = inst['modal_mask']['counts']
            data_list.append(
                dict(
                    img_id=record['img_id'],
                    img_path=record['img_path'],
                    height=record['height'],
                    width=record['width'],
                    ann_id=inst['ann_id'],
                    category_id=inst['category_id'],
                    bbox_label=inst['bbox_label'],
                    bbox=[float(v) for v in box],
                    mask_box=_tight_box(inst['modal_mask']),
                    crop_square=tuple(float(v) for v in square),
                    counts=counts.encode('ascii')
                    if isinstance(counts, str) else counts))
        if not data_list:
            raise ValueError(
                f'{self.ann_file}: no usable instance (crop side >= '
                f'{self.min_crop_side:g} px); {dict(stats)}')
        dropped = {k: v for k, v in stats.items() if k != 'instances'}
        print_log(
            f'PCNetInstanceDataset: {len(data_list)} usable instances of '
            f'{stats["instances"]} in {len(records)} images'
            + (f' (not used: {dropped})' if dropped else ''),
            logger='current',
            level=logging.INFO)
        return data_list

    # ------------------------------------------------------------ sampling
    def set_epoch(self, epoch: int) -> None:
        """Set the epoch mixed into the per-sample seed (see class doc)."""
        self._epoch = int(epoch)

    def sample_rng(self, index: int, sample_round: int) -> np.random.Generator:
        """The generator of sample ``index`` in pass ``sample_round``.

        The PCG64 state (128-bit state and odd increment) is a BLAKE2b hash
        of ``(seed, sample_round, index)``: distinct keys give independent
        streams, and setting the state costs far less than seeding through
        ``SeedSequence``. The returned generator object is reused by the
        next sample of this process: use it only while the pipeline runs.

        Args:
            index (int): Instance index in ``[0, len(self))``.
            sample_round (int): Pass number (``idx // N + epoch``).

        Returns:
            numpy.random.Generator: Deterministic when ``seed`` is set.
        """
        if self.seed is None:
            key = (int(np.random.randint(0, 2**62, dtype=np.int64)), -1,
                   index)
        else:
            key = (self.seed, sample_round, index)
        digest = hashlib.blake2b(
            ('%d,%d,%d' % key).encode('ascii'),
            digest_size=32,
            person=b'mmdeocc-pcnet').digest()
        if self._generator is None:
            self._generator = np.random.Generator(np.random.PCG64(0))
        self._generator.bit_generator.state = dict(
            bit_generator='PCG64',
            state=dict(
                state=int.from_bytes(digest[:16], 'little'),
                inc=int.from_bytes(digest[16:], 'little') | 1),
            has_uint32=0,
            uinteger=0)
        return self._generator

    def get_instance(self, index: int) -> Dict[str, Any]:
        """Instance dict of usable instance ``index`` (mask from the cache).

        Args:
            index (int): Index in ``[0, len(self))``.

        Returns:
            dict: See the class docstring (``target_inst``).
        """
        info = self.get_data_info(index)
        x, y, w, h = info['mask_box']
        mask = self._cache.get(index)
        if mask is None:
            full = mask_utils.decode(
                dict(size=[info['height'], info['width']],
                     counts=info['counts']))
            mask = np.ascontiguousarray(full[y:y + h, x:x + w], dtype=bool)
            self._cache.put(index, mask)
        return dict(
            mask=mask,
            offset=(x, y),
            bbox=np.array(info['bbox'], dtype=np.float64),
            img_shape=(info['height'], info['width']),
            category_id=info['category_id'],
            bbox_label=info['bbox_label'],
            ann_id=info['ann_id'],
            img_id=info['img_id'],
            img_path=info['img_path'],
            crop_square=info['crop_square'],
            crop_rule=(self.enlarge_box, self.min_side_ratio),
            index=index)

    def draw_eraser(self, rng: np.random.Generator) -> Dict[str, Any]:
        """A uniformly drawn instance (any image) to serve as an eraser."""
        return self.get_instance(int(rng.integers(len(self))))

    def prepare_data(self, idx: int) -> Any:
        """Build the results dict of item ``idx`` and run the pipeline.

        Args:
            idx (int): ``round * len(self) + i`` (plain samplers give
                ``round = 0``).

        Returns:
            Any: The pipeline output.
        """
        num = len(self)
        idx = int(idx)
        if idx < 0:
            raise IndexError(f'negative index {idx} is not supported')
        sample_round, index = divmod(idx, num)
        sample_round += self._epoch
        rng = self.sample_rng(index, sample_round)
        target = self.get_instance(index)
        eraser = self.draw_eraser(rng)
        results = dict(
            sample_idx=index,
            sample_round=sample_round,
            rng=rng,
            target_inst=target,
            eraser_inst=eraser,
            eraser_sampler=self.draw_eraser)
        return self.pipeline(results)

    def __getitem__(self, idx: int) -> Any:
        """Item ``idx`` (never refetches another index: deterministic)."""
        if not self._fully_initialized:
            print_log(
                'Please call `full_init()` method manually to accelerate the '
                'speed.', logger='current', level=logging.WARNING)
            self.full_init()
        data = self.prepare_data(idx)
        if data is None:
            raise RuntimeError(f'the pipeline returned None for item {idx}')
        return data
