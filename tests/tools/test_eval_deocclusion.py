"""tools/analysis_tools/eval_deocclusion.py end to end: config + checkpoint
in, tables and files out."""
import importlib.util
import json
import os.path as osp

import pytest
import torch

from mmdeocc.datasets.synthesis import generate_scenes, load_shapes
from mmdeocc.evaluation import DeOcclusionEvalError
from mmdeocc.models import (PCNetM, config_text_for_model,
                            save_checkpoint_atomic)

pytestmark = pytest.mark.usefixtures('one_torch_thread_per_module')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'eval_deocclusion.py')
SHAPES = osp.join(ROOT, 'data', 'shapes', 'mpeg7')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('mmdeocc_tools_test', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup_files(tmp_path_factory):
    """Three generated scenes, an eval config and a random checkpoint."""
    root = tmp_path_factory.mktemp('tool')
    shapes, categories = load_shapes(SHAPES, max_side=64)
    ann = generate_scenes(
        shapes, categories, str(root / 'scenes'), 3, seed=5, progress=False,
        image_size=(80, 80), num_objects=(3, 4), area_range=(0.06, 0.14),
        overlap_range='heavy')
    config = root / 'eval_cfg.py'
    config.write_text(
        "default_scope = 'mmdet'\n"
        "custom_imports = dict(imports=['mmdeocc'], "
        'allow_failed_imports=False)\n'
        f"test_dataloader = dict(dataset=dict(type='AmodalCocoDataset', "
        f"ann_file={ann!r}, test_mode=True, pipeline=[]))\n"
        'deoccluder = dict(order_th=0.1, amodal_th=0.2, batch_size=8)\n'
        "deocc_eval = dict(name='tool scenes', methods=['area', 'raw'])\n")
    torch.manual_seed(0)
    model = PCNetM(width=0.25, in_size=32)
    ckpt = str(root / 'pcnet.pth')
    save_checkpoint_atomic(
        dict(state_dict=model.state_dict(),
             meta=dict(cfg=config_text_for_model(
                 dict(type='PCNetM', width=0.25, in_size=32)))), ckpt)
    return dict(root=root, config=str(config), ckpt=ckpt, ann=ann)


def test_help(tool, capsys):
    with pytest.raises(SystemExit) as exc:
        tool.parse_args(['--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ('--methods', '--out', '--out-md', '--cfg-options', '--fast',
                 '--batch-size', '--gt-order', '--max-images',
                 '--sup-checkpoint', '--device'):
        assert flag in out


def test_end_to_end_writes_json_and_markdown(tool, setup_files, capsys):
    out_json = setup_files['root'] / 'out' / 'results.json'
    out_md = setup_files['root'] / 'out' / 'results.md'
    results = tool.main([
        setup_files['config'], setup_files['ckpt'], '--methods',
        'ours,ours_nog,area,yaxis,convex,raw,convexr', '--out',
        str(out_json), '--out-md', str(out_md), '--batch-size', '4',
        '--device', 'cpu', '--no-progress', '--cfg-options',
        'deoccluder.amodal_th=0.3'
    ])
    printed = capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert list(data['order']) == ['area', 'yaxis', 'convex', 'ours']
    assert list(data['amodal']) == ['raw', 'convex', 'convexr', 'ours_nog',
                                    'ours']
    assert data['dataset']['num_images'] == 3
    assert data['settings']['deoccluder']['amodal_th'] == 0.3
    assert data['settings']['deoccluder']['batch_size'] == 4
    assert data['checkpoint'] == setup_files['ckpt']
    for table in ('order', 'amodal'):
        for row in data[table].values():
            value = row['acc_occluded'] if table == 'order' else row['miou']
            assert 0.0 <= value <= 100.0
            assert f'| {row["name"]} |' in printed
    assert data['amodal']['raw']['miou'] == pytest.approx(
        results['amodal']['raw']['miou'])
    md = out_md.read_text()
    assert 'Table 1' in md and 'Table 2' in md and '| OG (ours) |' in md


def test_config_defaults_and_baselines_without_checkpoint(
        tool, setup_files):
    results = tool.main([
        setup_files['config'], 'none', '--device', 'cpu', '--no-progress',
        '--max-images', '2', '--gt-order', 'annotation'
    ])
    assert list(results['order']) == ['area']
    assert list(results['amodal']) == ['raw']
    assert results['dataset']['num_images'] == 2
    assert results['settings']['gt_order'] == 'annotation'


def test_bad_inputs(tool, setup_files, capsys):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        tool.main([setup_files['config'],
                   str(setup_files['root'] / 'nope.pth'), '--methods', 'ours',
                   '--device', 'cpu', '--no-progress'])
    with pytest.raises(SystemExit) as exc:
        tool.main([setup_files['config'], 'none', '--methods', 'area,magic'])
    assert exc.value.code == 2
    assert "unknown method 'magic'" in capsys.readouterr().err
    with pytest.raises(DeOcclusionEvalError, match='need a PCNet-M'):
        tool.main([setup_files['config'], 'none', '--methods', 'ours_nog',
                   '--device', 'cpu', '--no-progress'])
    with pytest.raises(FileNotFoundError, match='config file'):
        tool.main([str(setup_files['root'] / 'missing_cfg.py'), 'none'])


def test_detector_config_is_redirected_to_the_test_tool(tool):
    """A detector config (its pipeline needs mmdet's LoadAnnotations) gets
    one clear message naming tools/test.py, not a TypeError."""
    config = osp.join(
        ROOT, 'configs', 'deocclusion',
        'mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py')
    with pytest.raises(DeOcclusionEvalError, match='tools/test.py'):
        tool.main([config, 'none', '--methods', 'area'])
