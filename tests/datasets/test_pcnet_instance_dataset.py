"""PCNetInstanceDataset: length, sources, determinism across workers."""
import json
import math

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from mmdet.registry import DATA_SAMPLERS, DATASETS
from mmdeocc.datasets import PCNetInstanceDataset

PIPELINE = [dict(type='SurrogateOcclusion', size=64),
            dict(type='PackPCNetInputs')]


def usable_count_from_json(path, enlarge=3.0, ratio=1.1, min_side=5.0):
    """Independent count: decode each non-crowd mask, tight box, crop side."""
    data = json.loads(open(path).read())
    sizes = {img['id']: (img['height'], img['width'])
             for img in data['images']}
    count = 0
    for ann in data['annotations']:
        if ann.get('iscrowd', 0):
            continue
        h, w = sizes[ann['image_id']]
        rle = mask_utils.merge(mask_utils.frPyObjects(ann['segmentation'], h,
                                                      w))
        mask = mask_utils.decode(rle)
        ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if ys.size == 0:
            continue
        bw, bh = xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1
        side = max(math.sqrt(bw * bh * enlarge), ratio * bw, ratio * bh)
        count += side >= min_side
    return count


def test_length_counts_usable_instances(coco128_ann_file):
    ds = PCNetInstanceDataset(ann_file=str(coco128_ann_file),
                              data_format='coco', pipeline=PIPELINE)
    expected = usable_count_from_json(coco128_ann_file)
    assert len(ds) == expected
    assert 800 < expected < 929  # some tiny instances are dropped
    assert ds.metainfo['classes'][0] == 'person'
    # a larger minimum side drops more
    strict = PCNetInstanceDataset(ann_file=str(coco128_ann_file),
                                  data_format='coco', pipeline=PIPELINE,
                                  min_crop_side=40)
    assert len(strict) == usable_count_from_json(coco128_ann_file,
                                                 min_side=40)


def test_cocoa_fixture_excludes_fully_occluded(cocoa_ann):
    ds = PCNetInstanceDataset(ann_file=str(cocoa_ann.path),
                              data_format='cocoa', pipeline=PIPELINE)
    expected = [e.ann_id for img in cocoa_ann.images
                for e in cocoa_ann.instances[img['id']] if e.modal.any()]
    assert [ds.get_data_info(i)['ann_id'] for i in range(len(ds))] == expected
    assert 12002 not in expected  # region F, hidden behind D
    sample = ds[0]
    assert sample['inputs'].shape == (2, 64, 64)
    assert sample['data_samples']['category_id'] == 1


def test_dataset_config_source_equals_ann_file(kins2020_ann):
    direct = PCNetInstanceDataset(ann_file=str(kins2020_ann.path),
                                  data_format='kins', pipeline=PIPELINE,
                                  seed=1)
    wrapped = DATASETS.build(
        dict(type='PCNetInstanceDataset',
             dataset=dict(type='KINSAmodalDataset',
                          ann_file=str(kins2020_ann.path)),
             pipeline=PIPELINE, seed=1))
    assert len(direct) == len(wrapped) == 5
    for i in range(len(direct)):
        a, b = direct.get_data_info(i), wrapped.get_data_info(i)
        assert (a['ann_id'], a['bbox'], a['counts']) == \
            (b['ann_id'], b['bbox'], b['counts'])
        assert torch.equal(direct[i]['inputs'], wrapped[i]['inputs'])
    assert wrapped.metainfo['classes'] == direct.metainfo['classes']


def test_same_samples_for_any_worker_count(coco128_ann_file):
    ds = PCNetInstanceDataset(ann_file=str(coco128_ann_file),
                              data_format='coco', pipeline=PIPELINE, seed=7)
    n = len(ds)
    indices = [0, 5, n - 1, n + 5, 3 * n + 11, 2, 9, 40]
    batches = []
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=4, sampler=indices,
                            num_workers=workers, collate_fn=default_collate)
        batches.append(list(loader))
    for a, b in zip(*batches):
        assert torch.equal(a['inputs'], b['inputs'])
        assert torch.equal(a['data_samples']['target'],
                           b['data_samples']['target'])


def test_infinite_round_sampler(coco128_ann_file):
    ds = PCNetInstanceDataset(ann_file=str(coco128_ann_file),
                              data_format='coco', pipeline=PIPELINE, seed=7,
                              lazy_init=True)
    sampler = DATA_SAMPLERS.build(
        dict(type='InfiniteRoundSampler', shuffle=True, seed=3),
        default_args=dict(dataset=ds))
    n = len(ds)
    it = iter(sampler)
    first = [next(it) for _ in range(2 * n)]
    assert sorted(first[:n]) == list(range(n))
    assert sorted(first[n:]) == list(range(n, 2 * n))
    # the second pass yields the same instances with fresh draws
    i = first[n] - n
    assert not torch.equal(ds[i]['inputs'], ds[first[n]]['inputs'])


def test_lazy_init_and_argument_errors(tmp_path, coco_ann):
    missing = str(tmp_path / 'missing.json')
    ds = PCNetInstanceDataset(ann_file=missing, data_format='coco',
                              lazy_init=True)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        len(ds)
    with pytest.raises(ValueError, match='data_format'):
        PCNetInstanceDataset(ann_file=str(coco_ann.path))
    with pytest.raises(ValueError, match='unknown data_format'):
        PCNetInstanceDataset(ann_file=str(coco_ann.path), data_format='voc')
    with pytest.raises(ValueError, match='not both'):
        PCNetInstanceDataset(ann_file=str(coco_ann.path), data_format='coco',
                             dataset=dict(type='CocoModalDataset'))
    with pytest.raises(ValueError, match='seed'):
        PCNetInstanceDataset(ann_file=str(coco_ann.path), data_format='coco',
                             seed=-1)


def test_unseeded_samples_vary(coco_ann):
    ds = PCNetInstanceDataset(ann_file=str(coco_ann.path),
                              data_format='coco', pipeline=PIPELINE)
    draws = [ds[0]['inputs'] for _ in range(8)]
    assert any(not torch.equal(draws[0], d) for d in draws[1:])


def test_kins_crops_come_from_the_file_box(kins2017_ann, tmp_path,
                                           monkeypatch):
    """The reference crops KINS instances from ``inmodal_bbox``; the mask
    stays stored in its own tight box; boxes far from the mask are
    reported once; ``modal_box_source='mask'`` keeps the tight box."""
    data = json.loads(kins2017_ann.path.read_text())
    ann = data['annotations'][0]
    tight = list(ann['inmodal_bbox'])
    ann['inmodal_bbox'] = [tight[0] - 4, tight[1], tight[2] + 6.5, tight[3]]
    path = tmp_path / 'instances_train.json'
    path.write_text(json.dumps(data))
    logged = []
    monkeypatch.setattr('mmdeocc.datasets.kins.print_log',
                        lambda msg, **kwargs: logged.append(msg))

    def first(**reader_kwargs):
        ds = PCNetInstanceDataset(ann_file=str(path), data_format='kins',
                                  pipeline=PIPELINE,
                                  reader_kwargs=reader_kwargs)
        index = [ds.get_data_info(i)['ann_id']
                 for i in range(len(ds))].index(ann['id'])
        return ds.get_data_info(index), ds.get_instance(index)

    info, inst = first()
    assert info['bbox'] == ann['inmodal_bbox']
    assert info['mask_box'] == tight
    x, y, w, h = ann['inmodal_bbox']
    side = max(math.sqrt(w * h * 3.0), 1.1 * w, 1.1 * h)
    assert info['crop_square'] == pytest.approx((x + w / 2, y + h / 2, side))
    assert inst['offset'] == (tight[0], tight[1])
    assert inst['mask'].shape == (tight[3], tight[2])
    assert len(logged) == 1
    assert '1 of 5 "inmodal_bbox" boxes differ' in logged[0]
    assert f'annotation id {ann["id"]}' in logged[0]
    info, _ = first(modal_box_source='mask')
    assert info['bbox'] == tight
