"""The benchmark loop: every method on the same generated scenes, one table.

Scenes come from the MPEG-7 silhouettes in data/shapes/mpeg7 (small
images); the PCNet-M is a narrow network with random weights saved as a
checkpoint by the test.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from pycocotools.coco import COCO
from torch import nn

from mmdeocc.datasets import AmodalCocoDataset, CocoModalDataset
from mmdeocc.datasets.synthesis import generate_scenes, load_shapes
from mmdeocc.deocclusion import DeOccluder
from mmdeocc.evaluation import (AMODAL_ROWS, ORDER_ROWS,
                                DeOcclusionEvalError, DeOcclusionEvaluator,
                                evaluate_from_config, format_markdown,
                                save_results)
from mmdeocc.models import (PCNetM, config_text_for_model,
                            save_checkpoint_atomic)
from mmdeocc.structures import encode_rle

pytestmark = pytest.mark.usefixtures('one_torch_thread_per_module')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES = osp.join(ROOT, 'data', 'shapes', 'mpeg7')
ALL = ['ours', 'ours_nog', 'area', 'area_large', 'yaxis', 'convex', 'raw',
       'convexr', 'sup']


def random_pcnet(seed=0):
    """Narrow PCNet-M (32 x 32 crops) whose random outputs vary by pixel."""
    torch.manual_seed(seed)
    model = PCNetM(width=0.25, in_size=32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) *
                    (2.0 / fan_in)**0.5)
                module.bias.copy_(
                    torch.randn(module.bias.shape, generator=gen) * 0.3)
    return model.eval()


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    """Four generated 96 x 96 scenes with 3-4 objects."""
    out = tmp_path_factory.mktemp('scenes')
    shapes, categories = load_shapes(SHAPES, max_side=64)
    return generate_scenes(
        shapes, categories, str(out), 4, seed=3, progress=False,
        image_size=(96, 96), num_objects=(3, 4), area_range=(0.06, 0.14),
        overlap_range='heavy')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Two random PCNet-M checkpoints (PCNet-M and a stand-in PCNet-Sup)."""
    folder = tmp_path_factory.mktemp('ckpt')
    paths = []
    for seed in (0, 1):
        model = random_pcnet(seed)
        path = str(folder / f'pcnet_{seed}.pth')
        save_checkpoint_atomic(
            dict(state_dict=model.state_dict(),
                 meta=dict(cfg=config_text_for_model(
                     dict(type='PCNetM', width=0.25, in_size=32)))), path)
        paths.append(path)
    return paths


def scene_config(ann_file, dataset_type='AmodalCocoDataset'):
    return Config(
        dict(
            test_dataloader=dict(
                dataset=dict(type=dataset_type, ann_file=str(ann_file),
                             test_mode=True, pipeline=[])),
            deoccluder=dict(order_th=0.1, amodal_th=0.2, batch_size=16)))


@pytest.fixture(scope='module')
def results(scenes, checkpoints):
    return evaluate_from_config(
        scene_config(scenes), checkpoints[0], methods=ALL,
        sup_checkpoint=checkpoints[1], device='cpu', progress=False)


def test_images_per_batch_does_not_change_results(scenes, checkpoints,
                                                  results):
    for per_batch in (1, 3):
        other = evaluate_from_config(
            scene_config(scenes), checkpoints[0], methods=ALL,
            sup_checkpoint=checkpoints[1], device='cpu', progress=False,
            images_per_batch=per_batch)
        assert other['order'] == results['order']
        assert other['amodal'] == results['amodal']
    with pytest.raises(ValueError, match='images_per_batch'):
        evaluate_from_config(
            scene_config(scenes), checkpoints[0], methods=['ours'],
            device='cpu', progress=False, images_per_batch=0)


def test_every_method_in_range(results):
    assert list(results['order']) == [m for m in ORDER_ROWS if m in ALL]
    assert list(results['amodal']) == [m for m in AMODAL_ROWS if m in ALL]
    assert results['dataset']['num_images'] == 4
    for row in results['order'].values():
        assert row['num_occluded_pairs'] > 0
        for key in ('acc_occluded', 'acc_all'):
            assert 0.0 <= row[key] <= 100.0
    for row in results['amodal'].values():
        assert row['num_occluded'] > 0
        for key in ('miou', 'miou_inst', 'miou_occ', 'miou_occ_inst',
                    'miou_inv', 'miou_inv_inst'):
            assert 0.0 <= row[key] <= 100.0, (row['name'], key)
    # raw predicts no invisible pixel at all
    assert results['amodal']['raw']['miou_inv'] == 0.0
    text = format_markdown(results)
    for row in list(results['order'].values()) + list(
            results['amodal'].values()):
        assert f'| {row["name"]} |' in text


def test_raw_equals_direct_iou(scenes, results):
    """Raw amodal IoU = sum |modal| / sum |amodal| straight from the file."""
    coco = COCO(scenes)
    inter = union = 0
    for ann in coco.dataset['annotations']:
        modal = coco.annToMask(ann).astype(bool)
        amodal = coco.annToMask(
            dict(ann, segmentation=ann['amodal_segmentation'])).astype(bool)
        inter += np.count_nonzero(modal & amodal)
        union += np.count_nonzero(modal | amodal)
    assert results['amodal']['raw']['miou'] == pytest.approx(
        100.0 * inter / union, abs=1e-9)


def test_shared_passes_equal_standalone_runs(scenes, checkpoints, results):
    """OG / NOG / ours-order of the evaluator = separate DeOccluder runs."""
    from mmdeocc.evaluation.functional import (amodal_iou_stats,
                                               order_accuracy)
    from mmdeocc.structures import gt_order_from_masks
    from mmdeocc.models import load_pcnet_m
    model = load_pcnet_m(checkpoints[0])
    og = DeOccluder(model, 'ours', 'ours', batch_size=16)
    nog = DeOccluder(model, 'ours', 'ours_nog', batch_size=16)
    dataset = AmodalCocoDataset(ann_file=scenes, test_mode=True)
    correct = total = 0
    sums = dict(og=[0, 0], nog=[0, 0])
    for k in range(len(dataset)):
        insts = dataset.get_data_info(k)['instances']
        modal = np.stack([coco_decode(i['modal_mask']) for i in insts])
        amodal = np.stack([coco_decode(i['amodal_mask']) for i in insts])
        res_og, res_nog = og(modal), nog(modal)
        counts = order_accuracy(res_og.order,
                                gt_order_from_masks(modal, amodal))
        correct += counts['occluded_correct']
        total += counts['occluded_total']
        for key, res in (('og', res_og), ('nog', res_nog)):
            stats = amodal_iou_stats(res.amodal_masks, amodal, modal)
            sums[key][0] += stats['inter'].sum()
            sums[key][1] += stats['union'].sum()
    assert results['order']['ours']['acc_occluded'] == pytest.approx(
        100.0 * correct / total)
    assert results['amodal']['ours']['miou'] == pytest.approx(
        100.0 * sums['og'][0] / sums['og'][1])
    assert results['amodal']['ours_nog']['miou'] == pytest.approx(
        100.0 * sums['nog'][0] / sums['nog'][1])


def coco_decode(rle):
    from mmdeocc.structures import decode_rle
    return decode_rle(rle).astype(bool)


def write_oracle_scene(path):
    """A big rectangle A behind a small one B that covers the middle of A's
    bottom edge: A's visible part is a U whose convex hull is A."""
    h, w = 64, 64
    amodal_a = np.zeros((h, w), bool)
    amodal_a[10:40, 10:50] = True
    amodal_b = np.zeros((h, w), bool)
    amodal_b[30:50, 20:40] = True
    modal_a = amodal_a & ~amodal_b
    anns = []
    for ann_id, (modal, amodal) in enumerate(
        [(modal_a, amodal_a), (amodal_b, amodal_b)], 1):
        ys, xs = np.nonzero(modal)
        bbox = [float(xs.min()), float(ys.min()),
                float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        ys, xs = np.nonzero(amodal)
        abox = [float(xs.min()), float(ys.min()),
                float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        anns.append(
            dict(id=ann_id, image_id=1, category_id=1,
                 segmentation=encode_rle(modal), bbox=bbox,
                 area=float(modal.sum()), iscrowd=0,
                 amodal_segmentation=encode_rle(amodal), amodal_bbox=abox,
                 amodal_area=float(amodal.sum())))
    data = dict(
        images=[dict(id=1, file_name='a.png', height=h, width=w,
                     occlusion_edges=[[2, 1]])],
        annotations=anns, categories=[dict(id=1, name='box')])
    path.write_text(json.dumps(data))
    return str(path)


def test_oracle_scene_scores_100(tmp_path):
    ann = write_oracle_scene(tmp_path / 'oracle.json')
    evaluator = DeOcclusionEvaluator(
        methods='area,yaxis,convex,raw,convexr', dataset_name='oracle')
    res = evaluator.evaluate(AmodalCocoDataset(ann_file=ann, test_mode=True),
                             progress=False)
    for name in ('area', 'yaxis', 'convex'):
        assert res['order'][name]['acc_occluded'] == 100.0
        assert res['order'][name]['num_occluded_pairs'] == 1
    for name in ('convex', 'convexr'):
        assert res['amodal'][name]['miou'] == 100.0
        assert res['amodal'][name]['miou_inv'] == 100.0
    assert res['amodal']['raw']['miou'] < 100.0
    # the annotated order (occlusion_edges: B occludes A) agrees
    res = DeOcclusionEvaluator(methods='area', gt_order='annotation').evaluate(
        AmodalCocoDataset(ann_file=ann, test_mode=True), progress=False)
    assert res['order']['area']['acc_occluded'] == 100.0
    # the supervised row with the ground-truth order as eraser source runs
    res = DeOcclusionEvaluator(
        methods='sup', sup_model=random_pcnet(2), sup_order='gt').evaluate(
            [AmodalCocoDataset(ann_file=ann, test_mode=True).get_data_info(0)],
            progress=False)
    assert 0.0 <= res['amodal']['sup']['miou'] <= 100.0


def test_save_results_strict_json(tmp_path, results):
    res = dict(results)
    res['order'] = {k: dict(v) for k, v in results['order'].items()}
    res['order']['area']['acc_all'] = float('nan')
    save_results(res, str(tmp_path / 'r.json'), str(tmp_path / 'r.md'))
    data = json.loads((tmp_path / 'r.json').read_text())  # strict JSON
    assert data['order']['area']['acc_all'] is None
    assert set(data['amodal']) == set(results['amodal'])
    md = (tmp_path / 'r.md').read_text()
    assert '| Area | ' in md and ' - |' in md
    assert not list(tmp_path.glob('.*.tmp'))


def test_bad_inputs(coco_ann, scenes, tmp_path):
    with pytest.raises(DeOcclusionEvalError, match='unknown method'):
        DeOcclusionEvaluator(methods='ours,magic')
    with pytest.raises(DeOcclusionEvalError, match='need a PCNet-M'):
        DeOcclusionEvaluator(methods='raw,ours_nog')
    with pytest.raises(DeOcclusionEvalError, match='PCNet-Sup'):
        DeOcclusionEvaluator(methods='sup', sup_order='gt')
    with pytest.raises(DeOcclusionEvalError, match='set by the evaluator'):
        DeOcclusionEvaluator(methods='raw',
                             deoccluder_cfg=dict(amodal_method='raw'))
    with pytest.raises(DeOcclusionEvalError, match='invalid deoccluder'):
        DeOcclusionEvaluator(methods='raw', deoccluder_cfg=dict(order_th=2))
    # a modal-only dataset cannot score amodal methods ...
    modal_only = CocoModalDataset(ann_file=str(coco_ann.path), test_mode=True)
    with pytest.raises(DeOcclusionEvalError, match='amodal'):
        DeOcclusionEvaluator(methods='raw').evaluate(modal_only,
                                                     progress=False)
    # ... nor orderings against an order it does not have
    with pytest.raises(DeOcclusionEvalError, match='annotated order'):
        DeOcclusionEvaluator(methods='area',
                             gt_order='annotation').evaluate(
                                 modal_only, progress=False)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        evaluate_from_config(scene_config(scenes),
                             str(tmp_path / 'missing.pth'), methods='ours',
                             device='cpu', progress=False)
    with pytest.raises(DeOcclusionEvalError, match='need a PCNet-M'):
        evaluate_from_config(scene_config(scenes), 'none', methods='ours',
                             device='cpu', progress=False)
    with pytest.raises(FileNotFoundError, match='nothing.json'):
        evaluate_from_config(scene_config(tmp_path / 'nothing.json'), 'none',
                             methods='raw', device='cpu', progress=False)
