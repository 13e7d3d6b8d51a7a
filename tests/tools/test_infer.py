"""tools/infer.py: the project's main job (``make demo`` runs it)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'engine'))

from det_fixtures import (REPO_ROOT, load_tool, make_scenes,  # noqa: E402
                          save_detector, save_pcnet_c, save_pcnet_m,
                          scene_masks, tiny_detector_config)

from mmdeocc.apis.inferencer import PICTURE_MIN_SIDE  # noqa: E402
from mmdeocc.structures import DeOcclusionResult  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def infer():
    return load_tool('infer')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('infer_data')
    ann = make_scenes(root / 'scenes', num=2, seed=5)
    pcnet = save_pcnet_m(root / 'pcnet.pth')
    return dict(ann=ann, images=ann.parent / 'images', pcnet=pcnet,
                root=root)


def test_help_lists_the_interface():
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools/infer.py'), '--help'],
        capture_output=True, text=True, timeout=120, cwd=str(REPO_ROOT))
    assert out.returncode == 0, out.stderr
    for flag in ('--det-config', '--det-checkpoint', '--masks-from',
                 '--pcnet-m', '--pcnet-c', '--out-dir', '--score-thr',
                 '--device', '--fast'):
        assert flag in out.stdout


def test_masks_from_writes_pictures_and_json(infer, data, tmp_path):
    folder = tmp_path / 'frames'
    shutil.copytree(data['images'], folder)
    (folder / 'zz_broken.png').write_bytes(b'\x89PNG truncated')
    out = tmp_path / 'out'
    status = infer.main([
        str(folder), '--masks-from', str(data['ann']), '--pcnet-m',
        str(data['pcnet']), '--out-dir', str(out), '--no-progress'
    ])
    assert status == 0
    truth = scene_masks(data['ann'])
    for file_name, (modal, _, _) in truth.items():
        stem = Path(file_name).stem
        image = cv2.imread(str(folder / file_name))
        vis = cv2.imread(str(out / 'vis' / f'{stem}.png'))
        factor = -(-PICTURE_MIN_SIDE // min(image.shape[:2]))
        assert vis.shape == (image.shape[0] * factor,
                             image.shape[1] * factor, 3)
        assert cv2.imread(str(out / 'order' / f'{stem}.png')) is not None
        record = json.loads((out / 'preds' / f'{stem}.json').read_text())
        result = DeOcclusionResult.from_dict(record)
        assert np.array_equal(result.modal_masks, modal)
        assert result.amodal_masks.shape == modal.shape
        assert result.order.shape == (len(modal), ) * 2
        assert all(isinstance(n, str) for n in record['category_names'])
        # the invisible parts were painted: pixels differ from the image
        hidden = result.amodal_masks & ~result.modal_masks
        if hidden.any():
            small_vis = vis[::factor, ::factor]
            assert (small_vis[hidden.any(0)] != image[hidden.any(0)]).any()
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['num_processed'] == 2 and summary['num_skipped'] == 1
    assert 'zz_broken.png' in summary['skipped'][0]['reason']


def test_bad_arguments(infer, data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        infer.parse_args([str(data['images']), '--out-dir', str(tmp_path)])
    assert exc.value.code == 2
    assert 'exactly one source' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.parse_args([
            str(data['images']), '--masks-from', str(data['ann']),
            '--pcnet-m', str(data['pcnet']), '--pcnet-c', 'c.pth',
            '--out-dir', str(tmp_path)
        ])
    assert '--pcnet-c: file c.pth does not exist' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.parse_args([
            str(data['images']), '--masks-from', str(data['ann']),
            '--pcnet-m', str(data['pcnet']), '--content-options',
            'input_size=256', '--out-dir', str(tmp_path)
        ])
    assert '--content-options needs --pcnet-c' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.parse_args([
            str(data['images']), '--masks-from', str(data['ann']),
            '--pcnet-m', str(tmp_path / 'missing.pth'), '--out-dir',
            str(tmp_path)
        ])
    assert 'missing.pth does not exist' in capsys.readouterr().err
    # every input unreadable: exit status 1, no crash
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'a.jpg').write_bytes(b'nope')
    assert infer.main([
        str(bad), '--masks-from', str(data['ann']), '--pcnet-m',
        str(data['pcnet']), '--out-dir', str(tmp_path / 'o'), '--no-progress'
    ]) == 1
    # no PCNet-M for a network method: a clear message, status 2
    assert infer.main([
        str(bad), '--masks-from', str(data['ann']), '--out-dir',
        str(tmp_path / 'o')
    ]) == 2
    assert '--pcnet-m' in capsys.readouterr().err


def test_detector_source(infer, data, tmp_path):
    cfg = tiny_detector_config(data['ann'].parent, tmp_path)
    ckpt = save_detector(cfg, tmp_path / 'det.pth')
    cfg_file = tmp_path / 'det.py'
    cfg.dump(str(cfg_file))
    image = sorted(data['images'].iterdir())[0]
    out = tmp_path / 'out'
    assert infer.main([
        str(image), '--det-config', str(cfg_file), '--det-checkpoint',
        str(ckpt), '--pcnet-m', str(data['pcnet']), '--out-dir', str(out),
        '--score-thr', '0.0', '--no-progress'
    ]) == 0
    record = json.loads((out / 'preds' / f'{image.stem}.json').read_text())
    assert record['num_objects'] == 5 and len(record['scores']) == 5
    assert all(record['deoccluded'])
    assert record['category_names'][0] in cfg.classes


def test_pcnet_c_writes_content_layers(infer, data, tmp_path, capsys):
    """--pcnet-c: a content picture, the background and one RGBA layer per
    de-occluded object; layers keep the visible pixels of the image."""
    pcnet_c = save_pcnet_c(tmp_path / 'pcnet_c.pth')
    out = tmp_path / 'out'
    assert infer.main([
        str(data['images']), '--masks-from', str(data['ann']), '--pcnet-m',
        str(data['pcnet']), '--pcnet-c', str(pcnet_c), '--content-options',
        'batch_size=2', '--out-dir', str(out), '--no-progress'
    ]) == 0
    for file_name, (modal, _, _) in scene_masks(data['ann']).items():
        stem = Path(file_name).stem
        image = cv2.imread(str(data['images'] / file_name))
        record = json.loads((out / 'preds' / f'{stem}.json').read_text())
        content = record['content']
        assert content['instance_ids'] == list(range(len(modal)))
        assert len(content['fill_pixels']) == len(modal)
        picture = cv2.imread(str(out / content['picture']))
        assert picture.shape[0] > image.shape[0]
        background = cv2.imread(str(out / content['background']))
        assert background.shape == image.shape
        amodal = DeOcclusionResult.from_dict(record).amodal_masks
        for obj, rel in content['layers'].items():
            rgba = cv2.imread(str(out / rel), cv2.IMREAD_UNCHANGED)
            assert rgba.shape == image.shape[:2] + (4, )
            alpha = rgba[..., 3] > 0
            assert np.array_equal(alpha, modal[int(obj)] | amodal[int(obj)])
            visible = modal[int(obj)]
            assert np.array_equal(rgba[..., :3][visible], image[visible])
    # bad content options: a clear error, status 2
    assert infer.main([
        str(data['images']), '--masks-from', str(data['ann']), '--pcnet-m',
        str(data['pcnet']), '--pcnet-c', str(pcnet_c), '--content-options',
        'input_size=100', '--out-dir', str(out)
    ]) == 2
    assert 'multiple of 128' in capsys.readouterr().err
