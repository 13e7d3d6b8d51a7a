"""De-occlude a COCO-format training set once, for scene re-composition.

For every image of a modal instance dataset the inference core
(:class:`~mmdeocc.deocclusion.DeOccluder`: order + amodal masks) and content
completion (:class:`~mmdeocc.deocclusion.ContentCompleter`, PCNet-C: the
RGBA layer of every instance and the inpainted background) run once; the
result is stored per image as a lossless, compact
:class:`~mmdeocc.structures.recompose_cache.RecomposeEntry`
(``OUT_DIR/entries/<image id>.npz``: masks as RLE and only the pixels that
differ from the image). ``OUT_DIR/index.json`` lists the entries:

.. code-block:: none

    {"info": {"fingerprint", "settings", "format_version", ...},
     "categories": [...],            # of the annotation file
     "images": [{"img_id", "file_name", "img_path", "height", "width",
                 "entry", "num_objects", "ann_ids"}, ...],
     "skipped": [{"img_id", "file_name", "reason"}, ...]}

The :class:`~mmdeocc.datasets.transforms.DeOcclusionRecompose` transform
reads it during training.

Which instances get layers: those the dataset readers accept
(:mod:`mmdeocc.datasets.formats`; crowd and invalid annotations are left
out) with a non-empty modal mask. Images that cannot be read are listed in
``skipped`` with the reason (the transform leaves them unmodified).

Scale and robustness as :mod:`mmdeocc.apis.amodal_labels`
(:mod:`mmdeocc.utils.jobs`): chunks of images, one batched DeOccluder call
each, chunk ``k`` on rank ``k % world_size``; a finished chunk's entries are
written atomically before its part file, so a run killed at any moment
resumes where it stopped without losing or duplicating work; the settings
(annotation file hash, DeOccluder and content options, both networks'
weights hashes, chunk size) are fingerprinted and a resume with other
settings is refused unless ``restart``.
"""
import logging
import os
import os.path as osp
from dataclasses import dataclass
from functools import partial
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from mmdeocc.datasets.formats import READERS
from mmdeocc.structures import ContentLayers
from mmdeocc.structures.recompose_cache import (ENTRIES_DIR, INDEX_FILE,
                                                RECOMPOSE_ENTRY_VERSION,
                                                RecomposeEntry)
from mmdeocc.utils.checkpoint import state_dict_sha256
from mmdeocc.utils.image_io import read_rgb_image
from mmdeocc.utils.jobs import (JobError, ShardedJob, file_sha256,
                                read_json_or_none, run_sharded_job,
                                write_job_json)
from .amodal_labels import (decode_instance_masks, deoccluder_settings,
                            model_settings, read_image_records)

__all__ = [
    'RecomposeCacheBuildError', 'RecomposeCacheSummary', 'INDEX_FILE',
    'ENTRIES_DIR', 'content_settings', 'cache_chunk',
    'build_recompose_cache'
]

#: ContentCompleter options that change its results.
_CONTENT_OPTIONS = ('input_size', 'enlarge_box', 'min_side_ratio',
                    'hole_dilation', 'keep_visible', 'background_dilation',
                    'background_size', 'interpolation',
                    'background_inpainting')


class RecomposeCacheBuildError(ValueError):
    """The inputs or options of the re-composition cache are invalid."""


@dataclass
class RecomposeCacheSummary:
    """What :func:`build_recompose_cache` did (this rank's view).

    Attributes:
        index_file (str): The index.
        fingerprint (str): Hex digest of the settings.
        num_images (int): Images with an entry (rank 0).
        num_objects (int): Object layers in all entries (rank 0).
        skipped (int): Images left out (unreadable; rank 0).
        chunks_reused (int): Chunks found done at the start.
        chunks_processed (int): Chunks processed by this rank.
        images_processed (int): Images processed by this rank.
        seconds (float): Time this rank spent processing chunks.
        already_complete (bool): The index existed with the same
            fingerprint; nothing was done.
    """
    index_file: str
    fingerprint: str
    num_images: int = 0
    num_objects: int = 0
    skipped: int = 0
    chunks_reused: int = 0
    chunks_processed: int = 0
    images_processed: int = 0
    seconds: float = 0.0
    already_complete: bool = False


def _completion_settings(model: Any) -> Dict[str, Any]:
    """Type and weights hash of what completes content: a PCNet-C's
    generator (its discriminator and losses do not take part, and may hold
    tensors the checkpoint does not fix)."""
    settings = model_settings(model)
    settings['weights_sha256'] = state_dict_sha256(
        getattr(model, 'generator', model))
    return settings


def content_settings(completer: Any) -> Dict[str, Any]:
    """The options of a ContentCompleter that change its results, plus its
    networks' type and weights hashes (JSON-ready)."""
    settings = {k: getattr(completer, k) for k in _CONTENT_OPTIONS}
    settings['model'] = _completion_settings(completer.model)
    background = getattr(completer, 'background_model', None)
    settings['background_model'] = None if background is None else \
        _completion_settings(background)
    return settings


def entry_path(cache_dir: str, img_id: int) -> str:
    """Path of the entry of image ``img_id``."""
    return osp.join(cache_dir, ENTRIES_DIR, f'{int(img_id):012d}.npz')


def _empty_layers(image: np.ndarray) -> ContentLayers:
    """Layers of an image without objects (background = the image)."""
    height, width = image.shape[:2]
    empty = np.zeros((0, height, width), bool)
    return ContentLayers(
        image=image, background=image.copy(),
        background_hole=np.zeros((height, width), bool),
        rgb=np.zeros((0, height, width, 3), np.uint8), fill_masks=empty,
        alpha=empty, modal_masks=empty, amodal_masks=empty)


def _read_image(record: Mapping[str, Any]) -> Optional[np.ndarray]:
    """The record's image as RGB, None when it cannot be read."""
    path = record.get('img_path') or record['file_name']
    try:
        return read_rgb_image(path, f'image id {record["img_id"]}')
    except OSError:
        return None


def cache_chunk(records: Sequence[Mapping[str, Any]], cache_dir: str,
                deoccluder: Any, completer: Any) -> List[Dict[str, Any]]:
    """De-occlude a chunk of images and write their entries.

    Args:
        records (Sequence[dict]): Canonical image records.
        cache_dir (str): The cache folder.
        deoccluder (DeOccluder): Order + amodal masks (one batched call).
        completer (ContentCompleter): Layers and background.

    Returns:
        list[dict]: Per image, its index record (``entry`` relative to
        ``cache_dir``) or ``{"img_id", "file_name", "skipped": reason}``.
    """
    prepared = []
    for rec in records:
        insts = [i for i in rec['instances'] if i.get('recoverable', True)]
        h, w = int(rec['height']), int(rec['width'])
        image = _read_image(rec)
        reason = None
        if image is None:
            reason = f'image not found or unreadable: {rec.get("img_path")}'
        elif image.shape[:2] != (h, w):
            reason = (f'image {rec.get("img_path")} is {image.shape[1]}x'
                      f'{image.shape[0]}, the annotation says {w}x{h}')
        modal = None if reason else decode_instance_masks(
            [i['modal_mask'] for i in insts], h, w)
        prepared.append((rec, insts, image, modal, reason))
    items = [(modal, [int(i['category_id']) for i in insts])
             for _, insts, _, modal, reason in prepared
             if reason is None and insts]
    results = iter(deoccluder.run_many(items) if items else [])
    out = []
    for rec, insts, image, modal, reason in prepared:
        if reason is not None:
            print_log(f'recompose cache: image id {rec["img_id"]}: {reason}; '
                      'left out', logger='current', level=logging.WARNING)
            out.append(dict(img_id=int(rec['img_id']),
                            file_name=rec['file_name'], skipped=reason))
            continue
        ann_ids = [int(i['ann_id']) for i in insts]
        cats = [int(i['category_id']) for i in insts]
        if insts:
            result = next(results)
            order = result.order.cpu().numpy().astype(np.int8)
            amodal = result.amodal_masks.cpu().numpy().astype(bool)
            layers = completer(image, modal, amodal, cats)
        else:
            order = np.zeros((0, 0), np.int8)
            layers = _empty_layers(image)
        entry = RecomposeEntry.from_layers(layers, order, ann_ids, cats)
        path = entry_path(cache_dir, rec['img_id'])
        entry.save(path)
        out.append(
            dict(img_id=int(rec['img_id']), file_name=rec['file_name'],
                 img_path=rec.get('img_path') or rec['file_name'],
                 height=int(rec['height']), width=int(rec['width']),
                 entry=osp.relpath(path, cache_dir), num_objects=len(insts),
                 ann_ids=ann_ids))
    return out


def _write_index(results: List[Dict[str, Any]], fingerprint: str, *,
                 index_file: str, settings: Mapping[str, Any],
                 categories: Sequence[Mapping[str, Any]]) -> Dict[str, int]:
    """Rank 0: write the index from all chunks' records."""
    images = [r for r in results if 'skipped' not in r]
    skipped = [dict(img_id=r['img_id'], file_name=r['file_name'],
                    reason=r['skipped']) for r in results if 'skipped' in r]
    index = dict(
        info=dict(fingerprint=fingerprint, settings=dict(settings),
                  format_version=RECOMPOSE_ENTRY_VERSION,
                  description='mmdeocc scene re-composition cache'),
        categories=list(categories), images=images, skipped=skipped)
    write_job_json(index, index_file)
    return dict(num_images=len(images), skipped=len(skipped),
                num_objects=sum(r['num_objects'] for r in images))


def _index_fingerprint(path: str) -> Optional[str]:
    index = read_json_or_none(path)
    if not isinstance(index, dict):
        return None
    return (index.get('info') or {}).get('fingerprint')


def build_recompose_cache(ann_file: str,
                          out_dir: str,
                          deoccluder: Any,
                          completer: Any,
                          data_format: str = 'coco',
                          img_prefix: str = '',
                          chunk_size: int = 8,
                          restart: bool = False,
                          keep_parts: bool = False,
                          progress: bool = True) -> RecomposeCacheSummary:
    """Build (or resume) the re-composition cache of a dataset.

    Call it on every rank of a distributed job, or once in one process.

    Args:
        ann_file (str): COCO-format annotation file (or KINS / COCOA /
            amodal COCO, see ``data_format``; only modal masks are used).
        out_dir (str): The cache folder (``index.json``, ``entries/``).
        deoccluder (DeOccluder): The inference core (PCNet-M).
        completer (ContentCompleter): Content completion (PCNet-C).
        data_format (str): A reader of :mod:`mmdeocc.datasets.formats`.
        img_prefix (str): Image folder joined before each ``file_name``.
        chunk_size (int): Images per chunk (one batched core call and one
            part file each).
        restart (bool): Discard existing parts and the index.
        keep_parts (bool): Keep the parts after the merge.
        progress (bool): Show a progress bar on rank 0.

    Returns:
        RecomposeCacheSummary: What was done.

    Raises:
        FileNotFoundError: Missing annotation file or image folder.
        AnnotationFormatError: Unreadable annotation file.
        RecomposeCacheBuildError: Invalid options, or existing work made
            with other settings (and ``restart`` is False).
    """
    if data_format not in READERS:
        raise RecomposeCacheBuildError(
            f'unknown format {data_format!r}; choose one of {sorted(READERS)}')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    if img_prefix and not osp.isdir(img_prefix):
        raise FileNotFoundError(f'image folder not found: {img_prefix}')
    if deoccluder is None or completer is None:
        raise RecomposeCacheBuildError(
            'the cache needs a DeOccluder (PCNet-M) and a ContentCompleter '
            '(PCNet-C)')
    records, categories = read_image_records(ann_file, data_format,
                                             img_prefix)
    index_file = osp.join(out_dir, INDEX_FILE)
    os.makedirs(osp.join(out_dir, ENTRIES_DIR), exist_ok=True)
    settings = dict(annotation_sha256=file_sha256(ann_file),
                    data_format=data_format,
                    deoccluder=deoccluder_settings(deoccluder),
                    content=content_settings(completer))
    job = ShardedJob(
        items=records,
        process_chunk=partial(cache_chunk, cache_dir=out_dir,
                              deoccluder=deoccluder, completer=completer),
        item_id=lambda rec: int(rec['img_id']),
        settings=settings,
        chunk_size=chunk_size,
        out_files=(index_file, ),
        write_outputs=partial(_write_index, index_file=index_file,
                              settings=settings, categories=categories),
        read_fingerprint=_index_fingerprint,
        work_dir=osp.join(out_dir, 'parts'),
        ids_key='image_ids',
        results_key='images',
        restart_hint='--restart (restart=True)',
        resume_hint='Use the same config, checkpoints, input file and '
        '--chunk-size to resume')
    try:
        report = run_sharded_job(job, restart=restart, keep_parts=keep_parts,
                                 progress=progress, desc='recompose cache',
                                 unit='img')
    except JobError as err:
        raise RecomposeCacheBuildError(str(err)) from err
    summary = RecomposeCacheSummary(
        index_file=index_file, fingerprint=report.fingerprint,
        chunks_reused=report.chunks_reused,
        chunks_processed=report.chunks_processed,
        images_processed=report.items_processed, seconds=report.seconds,
        already_complete=report.already_complete)
    if report.output is not None:
        summary.num_images = report.output['num_images']
        summary.num_objects = report.output['num_objects']
        summary.skipped = report.output['skipped']
        print_log(
            f'wrote {index_file}: {summary.num_images} images, '
            f'{summary.num_objects} object layers'
            + (f', {summary.skipped} images left out (see "skipped")'
               if summary.skipped else ''), logger='current')
    return summary
