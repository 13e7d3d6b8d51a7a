"""Tests of the amodal COCO format (mmdeocc.datasets.amodal_coco): what is
written is read back unchanged; the amodal view and the edge conversions."""
import json
import warnings

import numpy as np
import pytest

from mmdeocc.datasets import AnnotationFormatError, load_coco_modal
from mmdeocc.datasets.amodal_coco import (amodal_view, amodal_view_path,
                                          build_label_files, image_labels,
                                          label_provenance, load_amodal_coco,
                                          occlusion_edges_from_order,
                                          order_from_occlusion_edges)
from mmdeocc.structures import decode_rle, encode_rle

INSTANCE_KEYS = ('ann_id', 'category_id', 'bbox_label', 'modal_mask',
                 'modal_bbox', 'amodal_mask', 'amodal_bbox', 'is_stuff',
                 'recoverable')


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def load(path):
    with open(path) as f:
        return json.load(f)


def order_or_zeros(rec) -> np.ndarray:
    n = len(rec['instances'])
    if rec['gt_order'] is None:
        return np.zeros((n, n), np.int8)
    return np.asarray(rec['gt_order'], np.int8).reshape(n, n)


def test_round_trip_of_annotated_labels(amodal_coco_ann, tmp_path):
    """amodal COCO -> records -> labels from the records' own masks and
    order -> file -> the same records."""
    data = load(amodal_coco_ann.path)
    records, categories = load_amodal_coco(str(amodal_coco_ann.path))
    labels = {
        rec['img_id']: image_labels(
            rec['img_id'], [i['ann_id'] for i in rec['instances']],
            order_or_zeros(rec), [i['amodal_mask'] for i in rec['instances']])
        for rec in records
    }
    out, skipped = build_label_files(data, records, categories, labels,
                                     'amodal_coco', 'gt', 'abc')
    assert skipped == {}
    again, cats = load_amodal_coco(write(tmp_path / 'labels.json', out))
    assert cats == categories
    assert [r['img_id'] for r in again] == sorted(r['img_id'] for r in records)
    by_id = {r['img_id']: r for r in records}
    for rec in again:
        src = by_id[rec['img_id']]
        assert [{k: i[k] for k in INSTANCE_KEYS} for i in rec['instances']] \
            == [{k: i[k] for k in INSTANCE_KEYS} for i in src['instances']]
        assert np.array_equal(order_or_zeros(rec), order_or_zeros(src))
        # the ground-truth depth of the input is not copied into labels
        assert all('depth' not in i for i in rec['instances'])
    assert label_provenance(out) == dict(
        method='gt', source_format='amodal_coco', fingerprint='abc',
        generator='mmdeocc tools/generate_amodal_labels.py')
    assert out['info']['description'] == 'mmdeocc test fixture'


def test_round_trip_of_predicted_labels(coco_ann, tmp_path):
    """A modal COCO file + predicted order and amodal masks -> an amodal
    COCO file whose reader returns exactly those predictions."""
    data = load(coco_ann.path)
    records, categories = load_coco_modal(str(coco_ann.path))
    rng = np.random.default_rng(0)
    predicted, labels = {}, {}
    for rec in records:
        insts = rec['instances']
        n = len(insts)
        upper = np.triu(rng.integers(-1, 2, size=(n, n)), 1)
        order = (upper - upper.T).astype(np.int8)
        amodal = []
        for inst in insts:
            mask = decode_rle(inst['modal_mask']).astype(bool)
            mask[:, :rng.integers(1, 20)] = True  # grows to the left edge
            amodal.append(mask)
        predicted[rec['img_id']] = (order, amodal)
        labels[rec['img_id']] = image_labels(
            rec['img_id'], [i['ann_id'] for i in insts], order,
            [encode_rle(m) for m in amodal])
    out, skipped = build_label_files(data, records, categories, labels,
                                     'coco', 'ours', 'f' * 64)
    assert skipped == {}
    path = write(tmp_path / 'labels.json', out)
    again, _ = load_amodal_coco(path)
    for rec in again:
        order, amodal = predicted[rec['img_id']]
        assert np.array_equal(order_or_zeros(rec), order)
        for inst, mask in zip(rec['instances'], amodal):
            assert np.array_equal(decode_rle(inst['amodal_mask']), mask)
    modal = {r['img_id']: r for r in records}
    for rec in again:  # modal masks unchanged
        assert [i['modal_mask'] for i in rec['instances']] == [
            i['modal_mask'] for i in modal[rec['img_id']]['instances']]
    # the crowd region is passed through unchanged, in file order
    crowd = [a for a in data['annotations'] if a.get('iscrowd')]
    assert len(crowd) == 1
    assert [a for a in out['annotations'] if a.get('iscrowd')] == crowd
    image_12 = [a['id'] for a in out['annotations'] if a['image_id'] == 12]
    assert image_12 == [a['id'] for a in data['annotations']
                        if a['image_id'] == 12]


def test_left_out_instances_are_counted(coco_ann):
    data = load(coco_ann.path)
    records, categories = load_coco_modal(str(coco_ann.path))
    labels = {}
    for rec in records:
        insts = rec['instances'][1:]  # the first of each image: no label
        labels[rec['img_id']] = image_labels(
            rec['img_id'], [i['ann_id'] for i in insts],
            np.zeros((len(insts), len(insts))),
            [i['modal_mask'] for i in insts])
    out, skipped = build_label_files(data, records, categories, labels,
                                     'coco', 'raw', 'x')
    assert skipped == {'fully occluded (empty modal mask)': 2}
    ids = {a['id'] for a in out['annotations']}
    assert ids.isdisjoint(r['instances'][0]['ann_id'] for r in records
                          if r['instances'])


def test_image_labels():
    rle = encode_rle(np.pad(np.ones((2, 3), bool), ((1, 0), (2, 0))))
    order = np.array([[0, 1, 0], [-1, 0, -1], [0, 1, 0]])
    label = image_labels(7, [10, 20, 30], order, [rle] * 3)
    assert label['image_id'] == 7
    assert label['occlusion_edges'] == [[10, 20], [30, 20]]
    assert label['annotations'][1] == dict(
        id=20, amodal_segmentation=rle, amodal_bbox=[2.0, 1.0, 3.0, 2.0],
        amodal_area=6.0)


def test_edges_and_order_are_inverse():
    rng = np.random.default_rng(1)
    upper = np.triu(rng.integers(-1, 2, size=(6, 6)), 1)
    order = (upper - upper.T).astype(np.int8)
    ann_ids = [101, 7, 55, 3, 900, 42]
    edges = occlusion_edges_from_order(order, ann_ids)
    instances = [dict(ann_id=a) for a in ann_ids]
    assert np.array_equal(
        order_from_occlusion_edges(edges, instances, 'img'), order)
    assert occlusion_edges_from_order(np.zeros((0, 0)), []) == []


@pytest.mark.parametrize('edges,message', [
    ({'a': 1}, 'expected a list'),
    ([[1, 2, 3]], 'malformed edge'),
    ([[1, 99]], 'names annotation id 99'),
    ([[1, 2], [2, 1]], 'contradicting edges'),
    ([[1, 1]], 'cannot occlude itself'),
])
def test_bad_occlusion_edges(edges, message):
    instances = [dict(ann_id=1), dict(ann_id=2)]
    with pytest.raises(AnnotationFormatError, match=message):
        order_from_occlusion_edges(edges, instances, 'where')


def test_amodal_view_swaps_fields():
    data = dict(
        info=dict(a=1), images=[],
        annotations=[
            dict(id=1, segmentation=[[0, 0, 1, 0, 1, 1]], bbox=[0, 0, 1, 1],
                 area=1.0, amodal_segmentation=dict(size=[2, 2], counts='04'),
                 amodal_bbox=[0, 0, 2, 2], amodal_area=4.0, iscrowd=0),
            dict(id=2, segmentation=dict(size=[2, 2], counts='04'),
                 bbox=[0, 0, 2, 2], area=4.0, iscrowd=1)
        ])
    view = amodal_view(data)
    assert view['annotations'][0] == dict(
        id=1, iscrowd=0, segmentation=dict(size=[2, 2], counts='04'),
        bbox=[0, 0, 2, 2], area=4.0, modal_segmentation=[[0, 0, 1, 0, 1, 1]],
        modal_bbox=[0, 0, 1, 1], modal_area=1.0)
    assert view['annotations'][1] == data['annotations'][1]
    assert view['info'] == dict(a=1, view='amodal')
    assert data['info'] == dict(a=1)  # input untouched
    bad = dict(annotations=[dict(id=7, amodal_segmentation={})])
    with pytest.raises(AnnotationFormatError, match='id 7.*amodal_bbox'):
        amodal_view(bad)


def test_amodal_view_path():
    assert amodal_view_path('a/b.json') == 'a/b_amodal_view.json'
    assert amodal_view_path('a/b') == 'a/b_amodal_view.json'


def test_label_provenance_of_other_files():
    assert label_provenance(None) == {}
    assert label_provenance(dict(info=None)) == {}
    assert label_provenance(dict(info=dict(pseudo_amodal=3))) == {}


def test_old_import_path_warns():
    from mmdeocc.datasets import READERS
    from mmdeocc.datasets import load_amodal_coco as from_package
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        from mmdeocc.datasets.coco import load_amodal_coco as old
    assert old is from_package is load_amodal_coco
    assert READERS['amodal_coco'] is load_amodal_coco
    assert any(issubclass(w.category, DeprecationWarning)
               and 'mmdeocc.datasets.amodal_coco' in str(w.message)
               for w in caught)
