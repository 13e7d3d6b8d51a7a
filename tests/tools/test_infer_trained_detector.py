"""Detect-then-de-occlude with real predicted masks: the committed tiny Mask
R-CNN (configs/deocclusion/mask-rcnn_r18_tiny_scenes.py, 300 CPU iterations
on generated scenes) feeds tools/infer.py, with the committed PCNet-M."""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmdeocc.datasets.synthesis import load_shapes, make_scene, scene_rng
from mmdeocc.structures import decode_rle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

import infer as infer_tool  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_trained_detector_masks_through_infer(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    shapes, _ = load_shapes('data/shapes/mpeg7')
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    for k in range(3):
        scene = make_scene(shapes, scene_rng(77, k), image_size=(128, 128),
                           num_objects=(2, 4))
        cv2.imwrite(str(img_dir / f'scene_{k}.png'), scene.image[:, :, ::-1])
    out_dir = tmp_path / 'out'
    code = infer_tool.main([
        str(img_dir), '--det-config',
        'configs/deocclusion/mask-rcnn_r18_tiny_scenes.py',
        '--det-checkpoint', 'checkpoints/mask-rcnn_r18_tiny_scenes.pth',
        '--pcnet-m', 'checkpoints/pcnet_m_shapes.pth', '--out-dir',
        str(out_dir), '--score-thr', '0.3', '--deoccluder-options',
        'amodal_union_visible=True', '--no-progress'
    ])
    assert code == 0
    preds = sorted((out_dir / 'preds').glob('*.json'))
    assert len(preds) == 3
    total_deoccluded = 0
    for pred in preds:
        rec = json.loads(pred.read_text())
        n = rec['num_objects']
        order = np.asarray(rec['order'], dtype=np.int64).reshape(n, n)
        np.testing.assert_array_equal(order, -order.T)  # antisymmetric
        assert set(np.unique(order)) <= {-1, 0, 1}
        for i in range(n):
            modal = decode_rle(rec['masks'][i]).astype(bool)
            amodal = decode_rle(rec['amodal_masks'][i]).astype(bool)
            assert modal.shape == amodal.shape == (128, 128)
            if rec['deoccluded'][i]:
                total_deoccluded += 1
                assert not (modal & ~amodal).any()  # amodal contains modal
            else:
                np.testing.assert_array_equal(amodal, modal)
                assert not order[i].any()
        for sub in ('vis', 'order'):
            assert (out_dir / sub / (pred.stem + '.png')).is_file()
    # The trained detector finds real objects (measured: several per image).
    assert total_deoccluded >= 3


def test_wrong_detector_checkpoint_is_refused(tmp_path, monkeypatch, capsys):
    """A PCNet-M file given as --det-checkpoint: exit 2 naming the file."""
    monkeypatch.chdir(ROOT)
    image = tmp_path / 'scene.png'
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    code = infer_tool.main([
        str(image), '--det-config',
        'configs/deocclusion/mask-rcnn_r18_tiny_scenes.py',
        '--det-checkpoint', 'checkpoints/pcnet_m_shapes.pth', '--pcnet-m',
        'checkpoints/pcnet_m_shapes.pth', '--out-dir',
        str(tmp_path / 'out'), '--no-progress'
    ])
    err = capsys.readouterr().err
    assert code == 2
    assert 'checkpoints/pcnet_m_shapes.pth provides 0 of the' in err
    assert not (tmp_path / 'out' / 'preds').exists()


def test_right_detector_checkpoint_covers_the_detector():
    from mmengine.config import Config

    from mmdeocc.apis import DeOcclusionInferencer
    inferencer = DeOcclusionInferencer(
        det_config=Config.fromfile(
            str(ROOT / 'configs/deocclusion/mask-rcnn_r18_tiny_scenes.py')),
        det_checkpoint=str(ROOT / 'checkpoints/mask-rcnn_r18_tiny_scenes.pth'),
        pcnet_m=str(ROOT / 'checkpoints/pcnet_m_shapes.pth'))
    fraction = inferencer.model.check_detector_checkpoint(
        str(ROOT / 'checkpoints/mask-rcnn_r18_tiny_scenes.pth'))
    assert fraction > 0.99
