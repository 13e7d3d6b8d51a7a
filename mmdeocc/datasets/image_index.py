"""Find the annotation record of an image file, and its modal masks.

Tools that take images plus an annotation file (``--masks-from``) look each
image up by the ``file_name`` of the annotation file: the full relative path
when the image path ends with it, else the base name when that is unique.
"""
import os.path as osp
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from mmdeocc.structures.masks import decode_rle

__all__ = ['ImageNotAnnotatedError', 'ImageRecordIndex', 'annotated_masks']

Record = Dict[str, Any]


class ImageNotAnnotatedError(LookupError):
    """An image has no (or no unique) record in the annotation file."""


class ImageRecordIndex:
    """Look up canonical image records by image path.

    Args:
        records (Sequence[dict]): Canonical records (``file_name``,
            ``height``, ``width``, ``instances``) of one annotation file.
        source (str): The annotation file, named in error messages.
    """

    def __init__(self, records: Sequence[Record], source: str) -> None:
        self.source = source
        self._by_file: Dict[str, Record] = {}
        by_base: Dict[str, List[Record]] = {}
        for record in records:
            file_name = record['file_name'].replace('\\', '/')
            self._by_file[file_name] = record
            by_base.setdefault(osp.basename(file_name), []).append(record)
        self._by_base = {k: v[0] for k, v in by_base.items() if len(v) == 1}
        self._ambiguous = {k: len(v) for k, v in by_base.items() if len(v) > 1}

    def __len__(self) -> int:
        return len(self._by_file)

    def find(self, path: str) -> Record:
        """The record of an image file.

        Args:
            path (str): The image path given by the user.

        Returns:
            dict: The record whose ``file_name`` the path ends with, else the
            only record with the same base name.

        Raises:
            ImageNotAnnotatedError: No record, or several with that base
                name (the message says which).
        """
        norm = path.replace('\\', '/')
        for file_name, record in self._by_file.items():
            if norm == file_name or norm.endswith('/' + file_name):
                return record
        base = osp.basename(norm)
        if base in self._by_base:
            return self._by_base[base]
        if base in self._ambiguous:
            raise ImageNotAnnotatedError(
                f'image {path}: {self._ambiguous[base]} images of '
                f'{self.source} are named {base}; give the path their '
                'file_name uses')
        raise ImageNotAnnotatedError(
            f'image {path} is not in {self.source} (no image with that '
            'file_name)')


def annotated_masks(record: Record) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """The modal masks of a record's kept (not ignored) instances.

    Args:
        record (dict): A canonical image record.

    Returns:
        tuple: ``(N, H, W)`` bool masks, decoded once, and the ``N`` kept
        instance dicts in the same order.
    """
    instances = [i for i in record['instances'] if not i.get('ignore_flag', 0)]
    masks = np.zeros((len(instances), int(record['height']),
                      int(record['width'])), dtype=bool)
    for k, inst in enumerate(instances):
        masks[k] = decode_rle(inst['modal_mask'])
    return masks, instances
