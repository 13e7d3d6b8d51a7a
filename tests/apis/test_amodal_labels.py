"""Tests of pseudo-amodal label generation (mmdeocc.apis.amodal_labels).

Scenes with exact ground truth are generated from data/shapes/mpeg7
(:mod:`mmdeocc.datasets.synthesis`); the label quality is measured
here, independently of the tool's own statistics, from the written files.
"""
import json
import os
import os.path as osp
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mmdeocc.apis import amodal_labels
from mmdeocc.apis.amodal_labels import (AmodalLabelError,
                                        LabelPartsMismatchError,
                                        generate_amodal_labels)
from mmdeocc.datasets import AnnotationFormatError, amodal_coco
from mmdeocc.datasets.amodal_coco import amodal_view_path
from mmdeocc.datasets.synthesis import generate_scenes, load_shapes
from mmdeocc.deocclusion import DeOccluder
from mmdeocc.evaluation.functional import (amodal_iou_stats,
                                           summarize_amodal_stats)
from mmdeocc.models import PCNetM, load_pcnet_m
from mmdeocc.structures import decode_rle
from mmdeocc.utils import jobs
from mmdeocc.utils.jobs import parts_dir

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / 'data' / 'shapes' / 'mpeg7'
TRAINED_PCNET = ROOT / 'checkpoints' / 'pcnet_m_shapes.pth'
GEOMETRIC = ('raw', 'convex', 'convexr')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> Path:
    """Ten heavily occluded 80 x 80 scenes of the held-out MPEG-7 classes
    (amodal COCO format: exact modal/amodal masks and occlusion edges)."""
    shapes, categories = load_shapes(str(SHAPES), max_side=80)
    out = tmp_path_factory.mktemp('scenes')
    return Path(
        generate_scenes(shapes, categories, str(out), 10, seed=2,
                        image_size=(80, 80), overlap_range='heavy',
                        progress=False))


def random_pcnet(seed: int = 0) -> PCNetM:
    """A narrow PCNet-M with random weights whose probability maps cross
    the thresholds in many places (the reference init is nearly constant).
    """
    model = PCNetM(width=0.25, in_size=32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                std = (2.0 / module.weight[0].numel())**0.5
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * std)
                if module.bias is not None:
                    module.bias.copy_(
                        torch.randn(module.bias.shape, generator=gen) * 0.3)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_var.copy_(
                    torch.rand(module.running_var.shape, generator=gen) + 0.5)
    return model.eval()


def geometric(method: str) -> DeOccluder:
    return DeOccluder(order_method='convex', amodal_method=method)


def run(ann, out, deoccluder, method, fmt='amodal_coco', **kwargs):
    return generate_amodal_labels(
        str(ann), str(out), deoccluder, method=method, data_format=fmt,
        progress=False, **kwargs)


def load(path) -> dict:
    with open(path) as f:
        return json.load(f)


def pooled_iou(out_path, gt_path) -> float:
    """Pooled amodal IoU (METHOD 4.3) of the labels against the scenes."""
    gt = {a['id']: a for a in load(gt_path)['annotations']}
    stats = []
    for ann in load(out_path)['annotations']:
        truth = gt[ann['id']]
        pred = decode_rle(ann['amodal_segmentation'])[None]
        stats.append(
            amodal_iou_stats(pred,
                             decode_rle(truth['amodal_segmentation'])[None],
                             decode_rle(truth['segmentation'])[None]))
    merged = {k: np.concatenate([s[k] for s in stats]) for k in stats[0]}
    return summarize_amodal_stats(merged)['miou']


def check_well_formed(out_path, ann_path):
    """Structure of an amodal COCO output and of its amodal view."""
    out, src = load(out_path), load(ann_path)
    assert [i['id'] for i in out['images']] == sorted(
        i['id'] for i in src['images'])
    sizes = {i['id']: [i['height'], i['width']] for i in out['images']}
    ann_image = {}
    for ann in out['annotations']:
        if ann.get('iscrowd'):
            continue
        ann_image[ann['id']] = ann['image_id']
        rle = ann['amodal_segmentation']
        assert rle['size'] == sizes[ann['image_id']]
        mask = decode_rle(rle).astype(bool)
        ys, xs = np.nonzero(mask)
        assert ann['amodal_area'] == float(mask.sum())
        if mask.any():
            assert ann['amodal_bbox'] == [
                float(xs.min()), float(ys.min()),
                float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1)
            ]
    for img in out['images']:
        edges = {tuple(e) for e in img['occlusion_edges']}
        for a, b in edges:
            assert ann_image[a] == img['id'] and ann_image[b] == img['id']
            assert (b, a) not in edges and a != b
    view = load(amodal_view_path(str(out_path)))
    assert len(view['annotations']) == len(out['annotations'])
    for ann, v in zip(out['annotations'], view['annotations']):
        if 'amodal_segmentation' not in ann:
            assert v == ann
            continue
        assert v['segmentation'] == ann['amodal_segmentation']
        assert v['bbox'] == ann['amodal_bbox']
        assert v['area'] == ann['amodal_area']
        assert v['modal_segmentation'] == ann['segmentation']
        assert 'amodal_segmentation' not in v
    assert view['info']['view'] == 'amodal'
    return out


# ----------------------------------------------------------------------
# Label quality
# ----------------------------------------------------------------------
def test_geometric_labels_rank_as_table2(scenes, tmp_path):
    """raw < Convex^R (paper Table 2), Convex < Convex^R; the labels are the
    exact geometric constructions."""
    ious = {}
    for method in GEOMETRIC:
        out = tmp_path / f'{method}.json'
        summary = run(scenes, out, geometric(method), method, evaluate=True)
        check_well_formed(out, scenes)
        ious[method] = pooled_iou(out, scenes)
        # the tool's own statistics agree with the independent evaluation
        assert summary.amodal_iou['miou'] == pytest.approx(ious[method])
        assert summary.num_images == 10
    assert ious['raw'] < ious['convexr'] - 3.0, ious
    assert ious['convex'] < ious['convexr'], ious

    src = {a['id']: a for a in load(scenes)['annotations']}
    outs = {
        m: {a['id']: a
            for a in load(tmp_path / f'{m}.json')['annotations']}
        for m in GEOMETRIC
    }
    for ann_id, truth in src.items():
        modal = decode_rle(truth['segmentation']).astype(bool)
        raw = decode_rle(outs['raw'][ann_id]['amodal_segmentation'])
        hull = decode_rle(outs['convex'][ann_id]['amodal_segmentation'])
        hull_r = decode_rle(outs['convexr'][ann_id]['amodal_segmentation'])
        assert (raw.astype(bool) == modal).all()
        assert (hull.astype(bool) >= modal).all()
        assert (hull_r.astype(bool) >= modal).all()
        assert (hull_r.astype(bool) <= hull.astype(bool)).all()
        # modal fields are kept as they were
        assert outs['convexr'][ann_id]['segmentation'] == truth['segmentation']
        assert 'depth' not in outs['convexr'][ann_id]


def test_ours_random_network_well_formed(scenes, tmp_path):
    """'ours' runs batched across images and equals per-image inference."""
    model = random_pcnet()
    deocc = DeOccluder(model, 'ours', 'ours', batch_size=16)
    out = tmp_path / 'ours.json'
    summary = run(scenes, out, deocc, 'ours', chunk_size=4, evaluate=True)
    data = check_well_formed(out, scenes)
    assert summary.chunks_processed == 3 and summary.images_processed == 10
    assert 0.0 <= summary.amodal_iou['miou'] <= 100.0

    anns = {}
    for ann in data['annotations']:
        anns.setdefault(ann['image_id'], []).append(ann)
    edges_seen = 0
    for img in data['images']:
        group = anns[img['id']]
        modal = np.stack([decode_rle(a['segmentation']) for a in group])
        result = deocc(modal, [a['category_id'] for a in group])
        amodal = np.stack(
            [decode_rle(a['amodal_segmentation']) for a in group])
        assert (amodal.astype(bool) == result.amodal_masks.numpy()).all()
        ids = [a['id'] for a in group]
        order = result.order.numpy()
        expected = [[ids[i], ids[j]] for i, j in zip(*np.nonzero(order == 1))]
        assert img['occlusion_edges'] == expected
        edges_seen += len(expected)
    assert edges_seen > 0


def test_gt_method_copies_annotations(scenes, tmp_path):
    out = tmp_path / 'gt.json'
    run(scenes, out, None, 'gt')
    check_well_formed(out, scenes)
    src, got = load(scenes), load(out)
    truth = {a['id']: a for a in src['annotations']}
    for ann in got['annotations']:
        assert (decode_rle(ann['amodal_segmentation']) == decode_rle(
            truth[ann['id']]['amodal_segmentation'])).all()
    for a, b in zip(src['images'], got['images']):
        assert sorted(map(tuple, a['occlusion_edges'])) == sorted(
            map(tuple, b['occlusion_edges']))
    assert pooled_iou(out, scenes) == pytest.approx(100.0)


@pytest.mark.skipif(
    not TRAINED_PCNET.is_file(),
    reason=f'{TRAINED_PCNET.relative_to(ROOT)} (PCNet-M trained on the '
    'shape scenes, configs/pcnet_m_shapes_cpu.py) does not exist yet')
def test_trained_pcnet_ranks_as_table2(scenes, tmp_path):
    """With a trained PCNet-M: raw < Convex^R < ours (paper Table 2) on
    shapes of classes held out of its training."""
    model = load_pcnet_m(str(TRAINED_PCNET))
    ious = {}
    for method in ('raw', 'convexr', 'ours'):
        deocc = DeOccluder(model, 'ours', 'ours') if method == 'ours' \
            else geometric(method)
        out = tmp_path / f'{method}.json'
        run(scenes, out, deocc, method)
        ious[method] = pooled_iou(out, scenes)
    assert ious['raw'] < ious['convexr'] < ious['ours'], ious


# ----------------------------------------------------------------------
# Input formats, pass-through, skips
# ----------------------------------------------------------------------
@pytest.mark.parametrize('name', ['kins2017_ann', 'kins2020_ann', 'cocoa_ann',
                                  'coco_ann', 'amodal_coco_ann'])
def test_formats(name, request, tmp_path):
    fixture = request.getfixturevalue(name)
    out = tmp_path / 'labels.json'
    summary = run(fixture.path, out, geometric('raw'), 'raw',
                  fmt=fixture.data_format)
    data = check_well_formed(out, fixture.path)
    by_image = {i['id']: i for i in data['images']}
    assert by_image[13]['occlusion_edges'] == []  # image without instances
    anns = {a['id']: a for a in data['annotations']}
    for img_id, expected in fixture.instances.items():
        for inst in expected:
            if not inst.modal.any():  # fully occluded: left out
                assert inst.ann_id not in anns
                continue
            ann = anns[inst.ann_id]
            assert ann['image_id'] == img_id
            assert ann['category_id'] == inst.category_id
            modal = decode_rle(ann['amodal_segmentation']).astype(bool)
            assert (modal == inst.modal).all()  # raw: amodal = modal
            if isinstance(ann['segmentation'], dict):
                assert (decode_rle(ann['segmentation']).astype(bool) ==
                        inst.modal).all()
    if name == 'cocoa_ann':  # region F is fully hidden behind D
        assert summary.skipped == {'fully occluded (empty modal mask)': 1}
        assert any(a.get('is_stuff') for a in data['annotations'])
    if name == 'coco_ann':  # the crowd region is passed through unchanged
        crowd = [a for a in load(fixture.path)['annotations']
                 if a.get('iscrowd')]
        assert [a for a in data['annotations'] if a.get('iscrowd')] == crowd
        view = load(amodal_view_path(str(out)))
        assert [a for a in view['annotations'] if a.get('iscrowd')] == crowd
    if name.startswith('kins'):  # KINS' amodal segmentation is not kept
        for ann in data['annotations']:
            assert not {'inmodal_seg', 'a_segm', 'i_segm'} & set(ann)
    # round trip through the project's amodal COCO reader
    from mmdeocc.datasets import load_amodal_coco
    records, _ = load_amodal_coco(str(out))
    assert len(records) == 3


def test_gt_view_of_kins(kins2020_ann, tmp_path):
    """'gt' turns a KINS file into the ground-truth amodal view."""
    out = tmp_path / 'gt.json'
    run(kins2020_ann.path, out, None, 'gt', fmt='kins')
    view = {
        a['id']: a
        for a in load(amodal_view_path(str(out)))['annotations']
    }
    got = load(out)
    for img_id, expected in kins2020_ann.instances.items():
        for inst in expected:
            assert (decode_rle(view[inst.ann_id]['segmentation']).astype(bool)
                    == inst.amodal).all()
        order = kins2020_ann.gt_order[img_id]
        if order is None:
            continue
        ids = [i.ann_id for i in expected]
        image = next(i for i in got['images'] if i['id'] == img_id)
        assert image['occlusion_edges'] == [
            [ids[i], ids[j]] for i, j in zip(*np.nonzero(order == 1))]


def test_public_names_keep_their_import_path():
    """Everything in ``__all__`` still comes from amodal_labels (the format
    and job-runner names are re-exported from their new modules); moved
    module attributes resolve with a DeprecationWarning."""
    from mmdeocc import apis
    for name in amodal_labels.__all__:
        assert getattr(apis, name) is getattr(amodal_labels, name)
    assert amodal_labels.amodal_view is amodal_coco.amodal_view
    assert amodal_labels.amodal_view_path is amodal_coco.amodal_view_path
    assert amodal_labels.build_label_files is amodal_coco.build_label_files
    assert amodal_labels.parts_dir is jobs.parts_dir
    moved = dict(AMODAL_VIEW_SUFFIX=amodal_coco.AMODAL_VIEW_SUFFIX,
                 GT_ANNOTATION_KEYS=amodal_coco.GT_ANNOTATION_KEYS,
                 order_to_edges=amodal_coco.occlusion_edges_from_order,
                 PARTS_FORMAT_VERSION=jobs.PARTS_FORMAT_VERSION,
                 chunk_path=jobs.chunk_path,
                 atomic_write_json=jobs.write_job_json)
    for name, new in moved.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            assert getattr(amodal_labels, name) is new
        assert [w.category for w in caught] == [DeprecationWarning], name
    with pytest.raises(AttributeError, match='no attribute'):
        amodal_labels.no_such_name  # noqa: B018


# ----------------------------------------------------------------------
# Nothing lost: resume, determinism, mismatches
# ----------------------------------------------------------------------
def test_resume_after_failure_is_byte_identical(scenes, tmp_path):
    ref = tmp_path / 'ref.json'
    run(scenes, ref, geometric('convexr'), 'convexr', chunk_size=3)

    out = tmp_path / 'out.json'
    done = []

    def die_after_two(index):
        done.append(index)
        if len(done) == 2:
            raise KeyboardInterrupt('injected failure after 2 chunks')

    with pytest.raises(KeyboardInterrupt):
        run(scenes, out, geometric('convexr'), 'convexr', chunk_size=3,
            chunk_hook=die_after_two)
    work = Path(parts_dir(str(out)))
    assert not out.exists()
    assert sorted(os.listdir(work)) == [
        'chunk-000000.json', 'chunk-000001.json', 'manifest.json']
    # leftovers of writes a kill interrupted
    (work / '.chunk-000002.json.tmp-x1.json').write_text('{"chunk": 2, "lab')
    (tmp_path / '.out.json.tmp-x2.json').write_text('{"images": [')

    summary = run(scenes, out, geometric('convexr'), 'convexr', chunk_size=3)
    assert summary.chunks_reused == 2 and summary.chunks_processed == 2
    assert summary.images_processed == 4
    assert summary.amodal_iou is None  # evaluation is opt-in
    assert out.read_bytes() == ref.read_bytes()
    assert Path(amodal_view_path(str(out))).read_bytes() == Path(
        amodal_view_path(str(ref))).read_bytes()
    assert not work.exists()
    assert sorted(os.listdir(tmp_path)) == sorted(
        ['ref.json', 'ref_amodal_view.json', 'out.json',
         'out_amodal_view.json'])


def test_resume_after_kill_between_outputs(scenes, tmp_path, monkeypatch):
    """Killed after OUT but before the view was written: both are redone
    identically from the kept parts."""
    ref = tmp_path / 'ref.json'
    run(scenes, ref, geometric('raw'), 'raw', chunk_size=4)
    out = tmp_path / 'out.json'

    def killed(_):
        raise SystemExit('killed before the amodal view was written')

    monkeypatch.setattr(amodal_labels, 'amodal_view', killed)
    with pytest.raises(SystemExit):
        run(scenes, out, geometric('raw'), 'raw', chunk_size=4)
    monkeypatch.undo()
    assert out.exists() and not Path(amodal_view_path(str(out))).exists()
    summary = run(scenes, out, geometric('raw'), 'raw', chunk_size=4)
    assert summary.chunks_reused == 3 and summary.chunks_processed == 0
    assert out.read_bytes() == ref.read_bytes()
    assert Path(amodal_view_path(str(out))).read_bytes() == Path(
        amodal_view_path(str(ref))).read_bytes()


def test_corrupt_part_is_redone(scenes, tmp_path):
    out = tmp_path / 'out.json'
    run(scenes, out, geometric('convex'), 'convex', chunk_size=4,
        keep_parts=True)
    reference = out.read_bytes()
    part = Path(parts_dir(str(out))) / 'chunk-000001.json'
    part.write_text(part.read_text()[:100])  # damaged on disk
    out.unlink()
    summary = run(scenes, out, geometric('convex'), 'convex', chunk_size=4)
    assert summary.chunks_processed == 1
    assert out.read_bytes() == reference


def test_settings_mismatch_is_refused(scenes, tmp_path):
    out = tmp_path / 'out.json'

    def stop(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(scenes, out, geometric('convexr'), 'convexr', chunk_size=4,
            chunk_hook=stop)
    with pytest.raises(LabelPartsMismatchError,
                       match=r"(?s)amodal_method: 'convexr'.*'raw'.*"
                       r"method: 'convexr' \(existing\) vs 'raw'.*--restart"):
        run(scenes, out, geometric('raw'), 'raw', chunk_size=4)
    with pytest.raises(LabelPartsMismatchError, match='chunk_size: 4'):
        run(scenes, out, geometric('convexr'), 'convexr', chunk_size=5)
    with pytest.raises(LabelPartsMismatchError, match='weights_sha256'):
        run(scenes, out, DeOccluder(random_pcnet(0), 'ours', 'ours'), 'ours',
            chunk_size=4)
    summary = run(scenes, out, DeOccluder(random_pcnet(1), 'ours', 'ours'),
                  'ours', chunk_size=4, restart=True)
    assert summary.chunks_reused == 0 and summary.chunks_processed == 3
    # a finished output made with other weights is not overwritten
    stamp = out.stat().st_mtime_ns
    with pytest.raises(LabelPartsMismatchError, match='exists and was not'):
        run(scenes, out, DeOccluder(random_pcnet(2), 'ours', 'ours'), 'ours',
            chunk_size=4)
    assert out.stat().st_mtime_ns == stamp


def test_complete_output_is_not_redone(scenes, tmp_path):
    out = tmp_path / 'out.json'
    run(scenes, out, geometric('raw'), 'raw')
    stamp = out.stat().st_mtime_ns
    view = Path(amodal_view_path(str(out)))
    view_bytes = view.read_bytes()
    summary = run(scenes, out, geometric('raw'), 'raw')
    assert summary.already_complete and out.stat().st_mtime_ns == stamp
    view.unlink()  # a lost view is rebuilt from OUT
    assert run(scenes, out, geometric('raw'), 'raw').already_complete
    assert view.read_bytes() == view_bytes
    with pytest.raises(LabelPartsMismatchError, match='exists and was not'):
        run(scenes, out, geometric('convex'), 'convex')


# ----------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------
def test_bad_input(scenes, coco_ann, tmp_path):
    missing = tmp_path / 'nope.json'
    with pytest.raises(FileNotFoundError, match='nope.json'):
        run(missing, tmp_path / 'o.json', geometric('raw'), 'raw')
    corrupt = tmp_path / 'corrupt.json'
    corrupt.write_text('{"images": [')
    with pytest.raises(AnnotationFormatError,
                       match='corrupt.json: not valid JSON'):
        run(corrupt, tmp_path / 'o.json', geometric('raw'), 'raw')
    with pytest.raises(AnnotationFormatError, match='"regions"'):
        run(scenes, tmp_path / 'o.json', geometric('raw'), 'raw', fmt='cocoa')
    with pytest.raises(AmodalLabelError, match="method 'gt'"):
        run(coco_ann.path, tmp_path / 'o.json', None, 'gt', fmt='coco')
    with pytest.raises(AmodalLabelError, match=r"\('convex', 'raw'\)"):
        run(scenes, tmp_path / 'o.json', geometric('convexr'), 'raw')
    with pytest.raises(AmodalLabelError, match='needs a DeOccluder'):
        run(scenes, tmp_path / 'o.json', None, 'ours')
    with pytest.raises(AmodalLabelError, match='overwrite the input'):
        run(scenes, scenes, geometric('raw'), 'raw')
    with pytest.raises(AmodalLabelError, match='chunk_size'):
        run(scenes, tmp_path / 'o.json', geometric('raw'), 'raw',
            chunk_size=0)
    assert not osp.exists(tmp_path / 'o.json')
