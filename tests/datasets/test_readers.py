"""Annotation readers return exactly what the fixture files contain."""
import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from mmdeocc.datasets import (AnnotationFormatError, InvalidAnnotationError,
                              detect_kins_release, load_amodal_coco,
                              load_annotations, load_coco_modal, load_cocoa,
                              load_kins)
from mmdeocc.structures import decode_rle, mask_to_bbox

RECORD_KEYS = {'img_id', 'img_path', 'file_name', 'height', 'width',
               'instances', 'gt_order'}
INSTANCE_KEYS = {'ann_id', 'category_id', 'bbox_label', 'modal_mask',
                 'modal_bbox', 'amodal_mask', 'amodal_bbox', 'is_stuff',
                 'ignore_flag', 'recoverable'}


def check_records(records, categories, fixture, img_prefix=''):
    """Compare reader output with the fixture's expectations."""
    assert categories == fixture.categories
    assert [r['img_id'] for r in records] == [i['id'] for i in fixture.images]
    for record, img in zip(records, fixture.images):
        assert RECORD_KEYS <= set(record)
        assert record['file_name'] == img['file_name']
        assert record['img_path'] == (f'{img_prefix}/{img["file_name"]}'
                                      if img_prefix else img['file_name'])
        assert (record['height'], record['width']) == (img['height'],
                                                       img['width'])
        expected = fixture.instances[img['id']]
        assert len(record['instances']) == len(expected), img['id']
        for inst, exp in zip(record['instances'], expected):
            assert INSTANCE_KEYS <= set(inst)
            assert inst['ann_id'] == exp.ann_id
            assert inst['category_id'] == exp.category_id
            assert inst['bbox_label'] == exp.bbox_label
            assert inst['is_stuff'] == exp.is_stuff
            assert inst['ignore_flag'] == 0
            assert isinstance(inst['modal_mask']['counts'], str)
            modal = decode_rle(inst['modal_mask']).astype(bool)
            np.testing.assert_array_equal(modal, exp.modal)
            assert inst['recoverable'] == bool(exp.modal.any())
            np.testing.assert_allclose(inst['modal_bbox'],
                                       mask_to_bbox(exp.modal))
            if exp.amodal is None:
                assert inst['amodal_mask'] is None
                assert inst['amodal_bbox'] is None
            else:
                amodal = decode_rle(inst['amodal_mask']).astype(bool)
                np.testing.assert_array_equal(amodal, exp.amodal)
                np.testing.assert_allclose(inst['amodal_bbox'],
                                           mask_to_bbox(exp.amodal))
        exp_order = fixture.gt_order[img['id']]
        if exp_order is None:
            assert record['gt_order'] is None
        else:
            n = len(expected)
            got = np.asarray(record['gt_order'], np.int8).reshape(n, n)
            np.testing.assert_array_equal(got, exp_order)
            np.testing.assert_array_equal(got, -got.T)  # antisymmetric
    json.dumps(records)  # records are JSON-ready


def test_kins_2017(kins2017_ann):
    records, categories = load_kins(str(kins2017_ann.path))
    check_records(records, categories, kins2017_ann)


def test_kins_2020(kins2020_ann):
    records, categories = load_kins(str(kins2020_ann.path), img_prefix='img')
    check_records(records, categories, kins2020_ann, img_prefix='img')
    # image 11: A (far) < B < C (near): B occludes A, C occludes B, A-C none
    order = np.array(records[0]['gt_order'])
    assert order.tolist() == [[0, -1, 0], [1, 0, -1], [0, 1, 0]]


def test_kins_release_detection(kins2017_ann, kins2020_ann):
    for fixture in (kins2017_ann, kins2020_ann):
        data = json.loads(fixture.path.read_text())
        assert detect_kins_release(data, 'x') == fixture.release


def test_kins_ico_direction_option(kins2020_ann):
    records, _ = load_kins(str(kins2020_ann.path),
                           ico_smaller_is_nearer=False)
    order = np.array(records[0]['gt_order'])
    np.testing.assert_array_equal(order, -kins2020_ann.gt_order[11])


def test_cocoa(cocoa_ann):
    records, categories = load_cocoa(str(cocoa_ann.path))
    check_records(records, categories, cocoa_ann)
    by_id = {r['img_id']: r for r in records}
    # the stuff region and the fully occluded region
    assert [i['is_stuff'] for i in by_id[11]['instances']] == \
        [False, False, False, True]
    hidden = by_id[12]['instances'][2]
    assert hidden['recoverable'] is False
    assert hidden['modal_bbox'] == [0.0, 0.0, 0.0, 0.0]
    assert hidden['amodal_bbox'][2] > 0


def test_cocoa_order_from_ranks_without_depth_constraint(cocoa_ann,
                                                         tmp_path):
    data = json.loads(cocoa_ann.path.read_text())
    for entry in data['annotations']:
        del entry['depth_constraint']
    path = tmp_path / 'cocoa_no_constraint.json'
    path.write_text(json.dumps(data))
    records, _ = load_cocoa(str(path))
    for record in records:
        expected = cocoa_ann.gt_order[record['img_id']]
        if expected is None:
            assert record['gt_order'] is None
        else:
            np.testing.assert_array_equal(record['gt_order'], expected)


def test_coco_modal(coco_ann):
    records, categories = load_coco_modal(str(coco_ann.path))
    check_records(records, categories, coco_ann)
    all_ids = [i['ann_id'] for r in records for i in r['instances']]
    assert 999 not in all_ids  # iscrowd=1 is not an instance
    assert records[2]['instances'] == []  # image without annotations kept


def test_amodal_coco(amodal_coco_ann):
    records, categories = load_amodal_coco(str(amodal_coco_ann.path))
    check_records(records, categories, amodal_coco_ann)
    assert [i['depth'] for i in records[0]['instances']] == [2, 1, 0]


@pytest.mark.parametrize('name', ['kins2017_ann', 'kins2020_ann', 'cocoa_ann',
                                  'coco_ann', 'amodal_coco_ann'])
def test_load_annotations_dispatch(name, request):
    fixture = request.getfixturevalue(name)
    records, categories = load_annotations(str(fixture.path),
                                           fixture.data_format)
    check_records(records, categories, fixture)


def test_coco128_real_file(coco128_ann_file):
    data = json.loads(coco128_ann_file.read_text())
    records, categories = load_coco_modal(str(coco128_ann_file))
    assert len(records) == len(data['images']) == 128
    assert categories == data['categories']
    num_crowd = sum(a['iscrowd'] for a in data['annotations'])
    num = sum(len(r['instances']) for r in records)
    assert num == len(data['annotations']) - num_crowd == 929
    # spot-check one annotation against pycocotools' own decoding
    from pycocotools.coco import COCO
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(coco128_ann_file))
    inst = records[5]['instances'][0]
    expected = coco.annToMask(coco.anns[inst['ann_id']]).astype(bool)
    np.testing.assert_array_equal(
        decode_rle(inst['modal_mask']).astype(bool), expected)
    cat_ids = sorted(c['id'] for c in data['categories'])
    assert inst['bbox_label'] == cat_ids.index(inst['category_id'])


# ---------------------------------------------------------------- errors
def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_wrong_format_errors(cocoa_ann, kins2017_ann, coco_ann):
    with pytest.raises(AnnotationFormatError,
                       match=r'COCO_amodal_val2014.json.*"regions".*COCOA'):
        load_kins(str(cocoa_ann.path))
    with pytest.raises(AnnotationFormatError, match='"inmodal_seg".*KINS'):
        load_coco_modal(str(kins2017_ann.path))
    with pytest.raises(AnnotationFormatError, match='"regions"'):
        load_cocoa(str(kins2017_ann.path))
    with pytest.raises(AnnotationFormatError,
                       match=r'instances_val.json.*"inmodal_seg"'):
        load_kins(str(coco_ann.path))
    with pytest.raises(AnnotationFormatError, match='"amodal_segmentation"'):
        load_amodal_coco(str(coco_ann.path))
    with pytest.raises(AnnotationFormatError, match='"regions"'):
        load_coco_modal(str(cocoa_ann.path))


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_coco_modal(str(tmp_path / 'nope.json'))
    path = tmp_path / 'broken.json'
    path.write_text('{"images": [')
    with pytest.raises(AnnotationFormatError, match='broken.json.*JSON'):
        load_cocoa(str(path))
    with pytest.raises(ValueError, match='data_format'):
        load_annotations(str(path), 'lvis')


def _coco_with(ann_update, tmp_path):
    data = dict(
        images=[dict(id=1, file_name='a.jpg', height=20, width=30)],
        categories=[dict(id=3, name='car')],
        annotations=[
            dict(id=7, image_id=1, category_id=3, iscrowd=0,
                 segmentation=[[2, 2, 12, 2, 12, 12, 2, 12]],
                 bbox=[2, 2, 10, 10], area=100),
            dict(id=8, image_id=1, category_id=3, iscrowd=0,
                 segmentation=[[15, 5, 25, 5, 25, 15]], bbox=[15, 5, 10, 10],
                 area=50),
        ])
    data['annotations'][1].update(ann_update)
    return _write(tmp_path, 'bad.json', data)


@pytest.mark.parametrize('update,reason,field', [
    (dict(segmentation=[[15, 5, 25, 5]]), '2 points', 'segmentation'),
    (dict(segmentation=[[15, 5, 25, 5, 25]]), 'odd number', 'segmentation'),
    (dict(segmentation=[]), 'empty polygon', 'segmentation'),
    (dict(segmentation='EMPTY_RLE'), 'empty mask', 'segmentation'),
    (dict(segmentation=dict(size=[10, 10], counts='')), 'does not match',
     'segmentation'),
    (dict(bbox=[15, 5, 0, 10]), 'zero-area box', 'bbox'),
])
def test_invalid_annotation_skip_or_raise(tmp_path, update, reason, field):
    if update.get('segmentation') == 'EMPTY_RLE':
        rle = mask_utils.encode(np.zeros((20, 30), np.uint8, order='F'))
        update = dict(segmentation=dict(size=[20, 30],
                                        counts=rle['counts'].decode()))
    path = _coco_with(update, tmp_path)
    with pytest.raises(InvalidAnnotationError,
                       match=rf'bad.json: annotation id 8, field "{field}".*'
                       rf'{reason}'):
        load_coco_modal(path, on_invalid='raise')
    records, _ = load_coco_modal(path)  # default: skip with a logged count
    assert [i['ann_id'] for i in records[0]['instances']] == [7]


def test_unknown_category_and_image(tmp_path):
    path = _coco_with(dict(category_id=99), tmp_path)
    with pytest.raises(AnnotationFormatError,
                       match=r'bad.json: annotation id 8: field '
                       r'"category_id" = 99'):
        load_coco_modal(path)
    path = _coco_with(dict(image_id=5), tmp_path)
    with pytest.raises(AnnotationFormatError,
                       match=r'annotation id 8: field "image_id" = 5'):
        load_coco_modal(path)


def test_missing_field_named(kins2020_ann, tmp_path):
    data = json.loads(kins2020_ann.path.read_text())
    del data['annotations'][1]['i_bbox']
    path = _write(tmp_path, 'update_train_2020.json', data)
    ann_id = data['annotations'][1]['id']
    with pytest.raises(AnnotationFormatError,
                       match=rf'annotation id {ann_id}: missing field '
                       r'"i_bbox"'):
        load_kins(path)


def test_cocoa_join_errors(cocoa_ann, tmp_path):
    data = json.loads(cocoa_ann.path.read_text())
    dup = dict(data, annotations=data['annotations'] + data['annotations'][:1])
    with pytest.raises(AnnotationFormatError, match='second annotation entry'):
        load_cocoa(_write(tmp_path, 'dup.json', dup))
    data['annotations'][0]['depth_constraint'] = '1-9'
    with pytest.raises(AnnotationFormatError,
                       match=r'image_id 12, field "depth_constraint".*9 out '
                       'of range'):
        load_cocoa(_write(tmp_path, 'range.json', data))
    data['annotations'][0]['depth_constraint'] = '1>2'
    with pytest.raises(AnnotationFormatError, match='malformed pair'):
        load_cocoa(_write(tmp_path, 'malformed.json', data))


def test_cocoa_invalid_region_skipped(cocoa_ann, tmp_path):
    data = json.loads(cocoa_ann.path.read_text())
    entry = next(e for e in data['annotations'] if e['image_id'] == 11)
    entry['regions'][1]['segmentation'] = [1, 1, 5, 5]  # 2 points
    path = _write(tmp_path, 'cocoa_bad.json', data)
    with pytest.raises(InvalidAnnotationError,
                       match=r'image_id 11, region 1, field "segmentation"'):
        load_cocoa(path, on_invalid='raise')
    records, _ = load_cocoa(path)
    record = next(r for r in records if r['img_id'] == 11)
    ids = [i['ann_id'] for i in record['instances']]
    assert ids == [11000, 11002, 11003]
    # constraints naming the skipped region are dropped, others re-indexed
    full = cocoa_ann.gt_order[11]
    keep = [0, 2, 3]
    np.testing.assert_array_equal(record['gt_order'], full[keep][:, keep])


def test_amodal_coco_edge_errors(amodal_coco_ann, tmp_path):
    data = json.loads(amodal_coco_ann.path.read_text())
    data['images'][0]['occlusion_edges'].append([502, 12345])
    with pytest.raises(AnnotationFormatError,
                       match=r'image id 11, field "occlusion_edges".*12345'):
        load_amodal_coco(_write(tmp_path, 'edges.json', data))


def test_uncompressed_rle_and_lvis_style_images(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[4:9, 6:17] = 1
    counts, value, run = [], 0, 0  # column-major runs starting with zeros
    for pixel in mask.flatten(order='F'):
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    data = dict(
        images=[dict(id=1, height=20, width=30,
                     coco_url='http://images.cocodataset.org/val2017/x.jpg')],
        categories=[dict(id=1, name='a')],
        annotations=[dict(id=1, image_id=1, category_id=1,
                          segmentation=dict(size=[20, 30], counts=counts),
                          bbox=[6, 4, 11, 5])])
    records, _ = load_coco_modal(_write(tmp_path, 'lvis.json', data))
    assert records[0]['file_name'] == 'val2017/x.jpg'
    inst = records[0]['instances'][0]
    np.testing.assert_array_equal(decode_rle(inst['modal_mask']), mask)
    assert inst['modal_bbox'] == [6.0, 4.0, 11.0, 5.0]
    data['annotations'][0]['segmentation']['counts'] = counts[:-1]
    with pytest.raises(InvalidAnnotationError, match='counts sum to'):
        load_coco_modal(_write(tmp_path, 'lvis.json', data),
                        on_invalid='raise')
