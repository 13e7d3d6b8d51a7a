"""Image-level datasets: registered, canonical data_list, mmdet keys."""
import numpy as np
import pytest

from mmdet.registry import DATASETS
from mmdeocc.structures import decode_rle

CASES = [('KINSAmodalDataset', 'kins2020_ann'),
         ('KINSAmodalDataset', 'kins2017_ann'),
         ('COCOAmodalDataset', 'cocoa_ann'),
         ('CocoModalDataset', 'coco_ann'),
         ('AmodalCocoDataset', 'amodal_coco_ann')]


@pytest.mark.parametrize('dataset_type,fixture_name', CASES)
def test_data_list_is_canonical(dataset_type, fixture_name, request):
    fixture = request.getfixturevalue(fixture_name)
    ds = DATASETS.build(
        dict(type=dataset_type, ann_file=fixture.path.name,
             data_root=str(fixture.path.parent),
             data_prefix=dict(img='images'), test_mode=True))
    assert len(ds) == len(fixture.images) == 3
    names = [c['name'] for c in sorted(fixture.categories,
                                       key=lambda c: c['id'])]
    assert ds.metainfo['classes'] == tuple(names)
    for i, img in enumerate(fixture.images):
        record = ds.get_data_info(i)
        assert record['img_id'] == img['id']
        assert record['img_path'] == str(fixture.path.parent / 'images' /
                                         img['file_name'])
        expected = fixture.instances[img['id']]
        assert [x['ann_id'] for x in record['instances']] == \
            [e.ann_id for e in expected]
        for inst, exp in zip(record['instances'], expected):
            x, y, w, h = inst['modal_bbox']
            assert inst['bbox'] == [x, y, x + w, y + h]  # mmdet xyxy
            np.testing.assert_array_equal(
                decode_rle(inst['mask']).astype(bool), exp.modal)
        assert ds.get_cat_ids(i) == [e.bbox_label for e in expected]


def test_filter_empty_gt_and_unrecoverable(cocoa_ann):
    cfg = dict(type='COCOAmodalDataset', ann_file=str(cocoa_ann.path),
               filter_cfg=dict(filter_empty_gt=True))
    assert len(DATASETS.build(cfg)) == 2
    assert len(DATASETS.build(dict(cfg, test_mode=True))) == 3
    ds = DATASETS.build(dict(cfg, ignore_unrecoverable=True))
    flags = [i['ignore_flag'] for i in ds.get_data_info(1)['instances']]
    assert flags == [0, 0, 1]  # region F is fully occluded


def test_lazy_init_reads_nothing(tmp_path):
    ds = DATASETS.build(dict(type='KINSAmodalDataset',
                             ann_file=str(tmp_path / 'absent.json'),
                             lazy_init=True))
    with pytest.raises(FileNotFoundError, match='absent.json'):
        ds.full_init()
