"""The model zoo: ``model-index.yml`` and ``configs/*/metafile.yml``.

Every metafile parses and is imported by ``model-index.yml``; every model's
config exists, loads and agrees with its name (MMDetection's
``{algorithm}_{components}_{NxB}-{schedule}_{dataset}`` scheme: per-process
batch, processes, schedule) and its metadata; committed weights exist and
were trained with their config; every old config name is a one-line alias
that resolves to the same config as its new name; the READMEs name only
configs that exist; no config reaches outside the repository.
"""
import ast
import functools
import glob
import os.path as osp
import re
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
ZOO_FOLDERS = ('pcnet_m', 'pcnet_c', 'deocclusion', 'amodal', 'recompose')

# Old config name -> new name (paths relative to configs/). The old names
# stay as aliases so that documented commands and scripts keep working.
OLD_TO_NEW = {
    'pcnet_m_kins.py': 'pcnet_m/pcnet-m_unet-w2_8xb32-32k_kins.py',
    'pcnet_m_cocoa.py': 'pcnet_m/pcnet-m_unet-w2_8xb32-56k_cocoa.py',
    'pcnet_m_coco128_cpu.py':
    'pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_coco128.py',
    'pcnet_m_shapes_cpu.py': 'pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py',
    'pcnet_sup_shapes_cpu.py':
    'pcnet_m/pcnet-sup_unet-w0.5_1xb16-2k_shapes.py',
    'pcnet_c_kins.py': 'pcnet_c/pcnet-c_pconv-unet_8xb16-450k_kins.py',
    'pcnet_c_cocoa.py': 'pcnet_c/pcnet-c_pconv-unet_8xb16-450k_cocoa.py',
    'pcnet_c_coco128_cpu.py': 'pcnet_c/pcnet-c_pconv-unet_1xb4-2k_coco128.py',
    'pcnet_c_w025_coco128_cpu.py':
    'pcnet_c/pcnet-c_pconv-unet-w0.25_1xb8-4k_coco128.py',
    'eval/deocc_scenes_unseen.py':
    'deocclusion/deocclusion-eval_pcnet-m_scenes-unseen.py',
    'eval/deocc_kins.py': 'deocclusion/deocclusion-eval_pcnet-m_kins.py',
    'eval/deocc_cocoa.py': 'deocclusion/deocclusion-eval_pcnet-m_cocoa.py',
    'deocclusion/mask-rcnn_r18_tiny_scenes.py':
    'deocclusion/mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py',
    'deocclusion/mask-rcnn_r18_tiny_scenes_deocclusion.py':
    'deocclusion/mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py',
    'deocclusion/mask-rcnn_r18_tiny_scenes_wrapped.py':
    'deocclusion/mask-rcnn_r18-w0.25_fpn_deocc-wrapper_1xb4-300it_scenes.py',
    'deocclusion/mask-rcnn_r50_fpn_1x_coco_deocclusion.py':
    'deocclusion/mask-rcnn_r50_fpn_deocc-hook_8xb2-1x_coco.py',
    'amodal/mask-rcnn_r50_fpn_1x_kins-pseudo-amodal.py':
    'amodal/mask-rcnn_r50_fpn_8xb2-1x_kins-pseudo-amodal.py',
    'amodal/mask-rcnn_r18_fpn_300it_shapes-pseudo-amodal_cpu.py':
    'amodal/mask-rcnn_r18_fpn_1xb4-300it_scenes-pseudo-amodal.py',
    'amodal/mask-rcnn_r18_tiny_scenes-ft-pseudo-amodal_cpu.py':
    'amodal/mask-rcnn_r18-w0.25_fpn_1xb4-ft-400it_scenes-pseudo-amodal.py',
}

_FIELD = r'[a-z0-9.]+(?:-[a-z0-9.]+)*'
# {algorithm}_{components}_{N}xb{B}[-modifiers]-{schedule}_{dataset}, e.g.
# pcnet-m_unet-w2_8xb32-32k_kins, mask-rcnn_r50_fpn_8xb2-1x_kins-pseudo-amodal
MODEL_NAME = re.compile(
    rf'^(?P<algorithm>[a-z0-9]+(?:-[a-z0-9]+)*)'
    rf'_(?P<components>{_FIELD}(?:_{_FIELD})*)'
    r'_(?P<gpus>[1-9]\d*)xb(?P<batch>[1-9]\d*)'
    r'(?P<modifiers>(?:-[a-z][a-z0-9]*)*)'
    r'-(?P<schedule>[1-9]\d*(?:\.\d+)?(?:k|it|x|e))'
    r'_(?P<dataset>[a-z0-9]+(?:-[a-z0-9]+)*)$')

# Keys a checkpoint's stored config may legitimately differ in from the
# zoo config: the launcher and work dir of the run, and the folder of the
# photos on the machine that trained it.
RUN_SPECIFIC = ('launcher', 'work_dir')


@functools.lru_cache(maxsize=None)
def _cfg_dict(path: str) -> dict:
    return Config.fromfile(path).to_dict()


def _metafiles():
    return sorted(glob.glob(str(CONFIGS / '*' / 'metafile.yml')))


def _load_yaml(path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def _models():
    models = []
    for metafile in _metafiles():
        for model in _load_yaml(metafile).get('Models') or []:
            models.append(
                pytest.param(metafile, model, id=model.get('Name', '?')))
    return models


def _repo_file(rel: str) -> Path:
    assert not osp.isabs(rel) and '..' not in Path(rel).parts, rel
    return ROOT / rel


def test_model_index_imports_every_metafile():
    index = _load_yaml(ROOT / 'model-index.yml')
    imports = index['Import']
    assert len(imports) == len(set(imports))
    for rel in imports:
        assert _repo_file(rel).is_file(), rel
    expected = {osp.relpath(p, ROOT) for p in _metafiles()}
    assert set(imports) == expected
    # one metafile (and README) per algorithm folder
    assert expected == {f'configs/{f}/metafile.yml' for f in ZOO_FOLDERS}


@pytest.mark.parametrize('metafile', _metafiles(),
                         ids=lambda p: Path(p).parent.name)
def test_metafile_structure(metafile):
    meta = _load_yaml(metafile)
    assert set(meta) == {'Collections', 'Models'}
    folder = Path(metafile).parent
    names = set()
    for coll in meta['Collections']:
        assert coll['Name'] not in names
        names.add(coll['Name'])
        for key in ('Training Data', 'Training Techniques', 'Architecture'):
            value = coll['Metadata'][key]
            assert isinstance(value, list) and value, (coll['Name'], key)
            assert all(isinstance(v, str) and v for v in value)
        assert coll['Paper']['URL'] == 'https://arxiv.org/abs/2004.02788'
        assert coll['Paper']['Title'] == 'Self-Supervised Scene De-occlusion'
        assert _repo_file(coll['README']) == folder / 'README.md'
        assert (folder / 'README.md').is_file()
        assert _repo_file(coll['Code']['URL']).exists(), coll['Code']
        assert re.fullmatch(r'v\d+\.\d+\.\d+', coll['Code']['Version'])
    assert meta['Models'], metafile
    for model in meta['Models']:
        assert model['In Collection'] in names, model['Name']


def test_model_names_are_unique():
    names = [model.values[1]['Name'] for model in _models()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize('metafile,model', _models())
def test_model_entry(metafile, model):
    allowed = {
        'Name', 'In Collection', 'Config', 'Metadata', 'Results', 'Weights'
    }
    assert set(model) <= allowed, set(model) - allowed
    config = _repo_file(model['Config'])
    assert config.is_file(), model['Config']
    assert config.parent == Path(metafile).parent
    assert model['Name'] == config.stem
    match = MODEL_NAME.match(model['Name'])
    assert match, f'{model["Name"]} does not follow {MODEL_NAME.pattern}'

    meta = model['Metadata']
    assert isinstance(meta['Training Data'], str) and meta['Training Data']
    assert ('Iterations' in meta) != ('Epochs' in meta)
    gpus, batch = int(match['gpus']), int(match['batch'])
    assert meta['Batch Size'] == gpus * batch

    cfg = _cfg_dict(str(config))
    assert cfg['train_dataloader']['batch_size'] == batch
    schedule = match['schedule']
    train_cfg = cfg['train_cfg']
    if 'Iterations' in meta:
        assert train_cfg['type'] == 'IterBasedTrainLoop'
        assert train_cfg['max_iters'] == meta['Iterations']
        number = float(re.match(r'[\d.]+', schedule).group())
        if schedule.endswith('k'):
            assert train_cfg['max_iters'] == round(number * 1000)
        else:
            assert schedule.endswith('it')
            assert train_cfg['max_iters'] == number
    else:
        assert train_cfg['type'] == 'EpochBasedTrainLoop'
        assert train_cfg['max_epochs'] == meta['Epochs']
        number = float(re.match(r'[\d.]+', schedule).group())
        # mmdet's 1x = 12 epochs
        expected = number * 12 if schedule.endswith('x') else number
        assert train_cfg['max_epochs'] == expected

    for result in model.get('Results', []):
        assert set(result) == {'Task', 'Dataset', 'Metrics'}, result
        assert isinstance(result['Task'], str) and result['Task']
        assert isinstance(result['Dataset'], str) and result['Dataset']
        assert result['Metrics'] and all(
            isinstance(v, (int, float)) for v in result['Metrics'].values())
    if 'Weights' in model:
        assert _repo_file(model['Weights']).is_file(), model['Weights']
        assert model['Weights'].startswith('checkpoints/')


def _drop_run_specific(cfg: dict) -> dict:
    cfg = {k: v for k, v in cfg.items() if k not in RUN_SPECIFIC}
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    dataset.pop('data_prefix', None)
    return cfg


@pytest.mark.parametrize(
    'metafile,model', [m for m in _models() if 'Weights' in m.values[1]])
def test_weights_were_trained_with_their_config(metafile, model):
    from mmdeocc.utils import safe_torch_load
    ckpt = safe_torch_load(str(_repo_file(model['Weights'])))
    stored = Config.fromstring(ckpt['meta']['cfg'], '.py').to_dict()
    current = Config.fromfile(str(_repo_file(model['Config']))).to_dict()
    assert _drop_run_specific(stored) == _drop_run_specific(current)


def test_every_committed_checkpoint_is_in_the_zoo():
    weights = {
        model.values[1]['Weights']
        for model in _models() if 'Weights' in model.values[1]
    }
    committed = {
        osp.relpath(p, ROOT)
        for p in glob.glob(str(ROOT / 'checkpoints' / '*.pth'))
    }
    assert committed <= weights


def _alias_base(path: Path) -> str:
    """The one ``_base_`` entry of a thin alias config (else fail)."""
    tree = ast.parse(path.read_text())
    assert len(tree.body) == 1, f'{path} is not a one-line alias'
    node = tree.body[0]
    assert isinstance(node, ast.Assign)
    assert [t.id for t in node.targets] == ['_base_']
    value = ast.literal_eval(node.value)
    if isinstance(value, list):
        assert len(value) == 1, value
        value = value[0]
    return value


@pytest.mark.parametrize('old,new', sorted(OLD_TO_NEW.items()))
def test_old_config_name_is_an_alias(old, new):
    old_path, new_path = CONFIGS / old, CONFIGS / new
    assert new_path.is_file()
    base = _alias_base(old_path)
    assert (old_path.parent / base).resolve() == new_path.resolve()
    assert 'Old name' in old_path.read_text()
    # and the new file names its old one
    assert f'configs/{old}' in new_path.read_text()
    assert _cfg_dict(str(old_path)) == _cfg_dict(str(new_path))


def test_every_config_belongs_to_the_zoo():
    """Outside _base_/ and scaling/, a config is an alias or lives in an
    algorithm folder, whose README names it."""
    aliases = set(OLD_TO_NEW)
    for path in sorted(CONFIGS.rglob('*.py')):
        rel = path.relative_to(CONFIGS).as_posix()
        if rel.startswith(('_base_/', 'scaling/')) or rel in aliases:
            continue
        folder = rel.split('/')[0]
        assert folder in ZOO_FOLDERS, f'{rel}: not in an algorithm folder'
        readme = (CONFIGS / folder / 'README.md').read_text()
        assert path.name in readme, f'configs/{folder}/README.md: {rel}'


def _mentioned_configs(text: str):
    return set(re.findall(r'configs/[\w.+/-]+?\.py\b', text))


@pytest.mark.parametrize(
    'doc', ['README.md', *(f'configs/{f}/README.md' for f in ZOO_FOLDERS),
            *sorted(osp.relpath(p, ROOT)
                    for p in glob.glob(str(ROOT / 'docs' / '*.md')))])
def test_documented_configs_exist(doc):
    text = (ROOT / doc).read_text()
    for rel in _mentioned_configs(text):
        assert (ROOT / rel).is_file(), f'{doc} names {rel}'
    # relative links of the folder READMEs (configs, checkpoints)
    for link in re.findall(r'\]\((\.{1,2}/[^)\s]+)\)', text):
        assert ((ROOT / doc).parent / link).exists(), f'{doc}: {link}'


def _strings(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _strings(value)
    elif isinstance(obj, str):
        yield obj


def test_no_config_points_outside_the_repository():
    for path in sorted(CONFIGS.rglob('*')):
        if path.is_file():
            assert '../shared' not in path.read_text(), path
    for path in sorted(CONFIGS.rglob('*.py')):
        if path.relative_to(CONFIGS).parts[0] == '_base_':
            continue
        for value in _strings(_cfg_dict(str(path))):
            assert not value.startswith(('../', '/')), (path, value)
