"""Looking up an image's annotation record and decoding its masks once."""
import numpy as np
import pytest

from mmdeocc.datasets.image_index import (ImageNotAnnotatedError,
                                          ImageRecordIndex, annotated_masks)
from mmdeocc.structures import encode_rle


def _record(file_name, masks, ignore=()):
    return dict(
        file_name=file_name, height=masks.shape[1], width=masks.shape[2],
        instances=[
            dict(ann_id=10 + k, modal_mask=encode_rle(m),
                 ignore_flag=int(k in ignore)) for k, m in enumerate(masks)
        ])


def test_find_by_path_then_unique_base_name():
    masks = np.zeros((1, 4, 5), bool)
    records = [_record('train/a.jpg', masks), _record('val/a.jpg', masks),
               _record('b.jpg', masks)]
    index = ImageRecordIndex(records, 'ann.json')
    assert index.find('/data/coco/val/a.jpg') is records[1]
    assert index.find('elsewhere/b.jpg') is records[2]
    with pytest.raises(ImageNotAnnotatedError, match='2 images of ann.json '
                       'are named a.jpg'):
        index.find('x/a.jpg')
    with pytest.raises(ImageNotAnnotatedError, match='c.jpg is not in '
                       'ann.json'):
        index.find('c.jpg')


def test_annotated_masks_skip_ignored_instances():
    masks = np.zeros((3, 6, 7), bool)
    masks[0, 1:3, 1:4] = masks[1, 2:5, 3:6] = masks[2, 0, 0] = True
    decoded, kept = annotated_masks(_record('a.png', masks, ignore=(1, )))
    assert [i['ann_id'] for i in kept] == [10, 12]
    assert decoded.dtype == bool
    np.testing.assert_array_equal(decoded, masks[[0, 2]])
