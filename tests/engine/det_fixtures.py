"""Builders shared by the MMDetection-integration tests (engine, apis,
tools): tiny occlusion scenes, tiny random PCNet-M and PCNet-C
checkpoints, and a tiny Mask R-CNN config / checkpoint. Everything is made by the tests; no
file outside the repository is read."""
import json
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_DET_CONFIG = (REPO_ROOT / 'configs' / 'deocclusion' /
                   'mask-rcnn_r18_tiny_scenes.py')
SHAPES = REPO_ROOT / 'data/shapes/mpeg7'
PCNET_CFG = dict(type='PCNetM', width=0.25, in_size=32)


def make_scenes(out_dir: Path, num: int = 3, seed: int = 0,
                size: int = 96) -> Path:
    """Occlusion scenes (PNG images + amodal COCO annotations).

    Args:
        out_dir (Path): Output folder.
        num (int): Number of images.
        seed (int): Random seed.
        size (int): Image side.

    Returns:
        Path: The annotation file (images in ``out_dir / 'images'``).
    """
    from mmdeocc.datasets.synthesis import generate_scenes, load_shapes
    shapes, categories = load_shapes(str(SHAPES), max_side=96)
    path = generate_scenes(
        shapes, categories, str(out_dir), num, seed=seed, progress=False,
        image_size=(size, size), num_objects=(3, 4),
        area_range=(0.06, 0.14), overlap_range='moderate')
    return Path(path)


def random_pcnet_m(seed: int = 0) -> nn.Module:
    """A narrow PCNet-M (32 x 32 crops) whose random weights give
    probability maps that vary across pixels (Kaiming-scaled convolutions,
    random biases and BatchNorm statistics), so that ordering and amodal
    completion produce non-trivial results."""
    from mmdeocc.models import PCNetM
    cfg = {k: v for k, v in PCNET_CFG.items() if k != 'type'}
    model = PCNetM(**cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                scale = (2.0 / module.weight[0].numel())**0.5
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * scale)
                if module.bias is not None:
                    module.bias.copy_(
                        torch.randn(module.bias.shape, generator=gen) * 0.3)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(
                    torch.randn(module.running_mean.shape, generator=gen) *
                    0.1)
                module.running_var.copy_(
                    torch.rand(module.running_var.shape, generator=gen) +
                    0.5)
    return model.eval()


def save_pcnet_m(path: Path, seed: int = 0, **cfg_overrides) -> Path:
    """Save a random PCNet-M as an mmengine-style checkpoint (with the
    model config in ``meta['cfg']``)."""
    from mmdeocc.models import config_text_for_model, save_checkpoint_atomic
    model = random_pcnet_m(seed)
    cfg = dict(PCNET_CFG, **cfg_overrides)
    if cfg_overrides:
        from mmdeocc.models import PCNetM
        state = model.state_dict()
        model = PCNetM(**{k: v for k, v in cfg.items() if k != 'type'})
        model.load_state_dict(state)
    save_checkpoint_atomic(
        dict(state_dict=model.state_dict(),
             meta=dict(cfg=config_text_for_model(cfg))), str(path))
    return path


#: A narrow PCNet-C (generator width 1/8, 128 x 128 crops) without VGG.
PCNET_C_CFG = dict(
    type='PCNetC',
    generator=dict(type='PCNetCGenerator', window_rescale=True, width=0.125),
    discriminator=dict(type='PCNetCDiscriminator', width=0.125),
    inpainting_loss=dict(
        type='PCNetCInpaintingLoss', perceptual_weight=0.0, style_weight=0.0),
    in_size=128)


def save_pcnet_c(path: Path, seed: int = 0) -> Path:
    """Save a random narrow PCNet-C like a Runner checkpoint (generator and
    discriminator weights, the model config in ``meta['cfg']``)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from mmdeocc.models import config_text_for_model, save_checkpoint_atomic
    init_default_scope('mmdet')
    torch.manual_seed(seed)
    model = MODELS.build(PCNET_C_CFG)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if k.startswith(('generator.', 'discriminator.'))
    }
    save_checkpoint_atomic(
        dict(state_dict=state, meta=dict(cfg=config_text_for_model(
            PCNET_C_CFG))), str(path))
    return path


def tiny_detector_config(data_root: Path, work_dir: Path,
                         max_per_img: int = 5):
    """The repository's tiny Mask R-CNN config, pointed at test scenes.

    Random weights give near-uniform class scores (~0.1), so the RoI head
    keeps every detection (``score_thr=0``) up to ``max_per_img``.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY_DET_CONFIG))
    for loader in ('val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root) + '/'
    cfg.train_dataloader.dataset.data_root = str(data_root) + '/'
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    cfg.model.test_cfg.rcnn.max_per_img = max_per_img
    cfg.work_dir = str(work_dir)
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'
    return cfg


def save_detector(cfg, path: Path, seed: int = 0) -> Path:
    """Build the detector of ``cfg`` with initialised random weights and
    save it like a trained mmdet checkpoint (with ``dataset_meta``)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = dict(dataset_meta=dict(classes=tuple(cfg.classes)))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), str(path))
    return path


def write_config(cfg, path: Path) -> Path:
    """Dump a config to a ``.py`` file."""
    cfg.dump(str(path))
    return path


def scene_masks(ann_file: Path) -> Dict[str, Tuple[np.ndarray, np.ndarray,
                                                    np.ndarray]]:
    """Per image file name: modal masks, amodal masks and category ids."""
    from mmdeocc.structures import decode_rle
    data = json.loads(Path(ann_file).read_text())
    out = {}
    for image in data['images']:
        anns = [a for a in data['annotations'] if a['image_id'] == image['id']]
        shape = (len(anns), image['height'], image['width'])
        modal, amodal = np.zeros(shape, bool), np.zeros(shape, bool)
        for k, ann in enumerate(anns):
            seg = ann['segmentation']
            if isinstance(seg, dict):
                modal[k] = decode_rle(seg).astype(bool)
            else:
                from mmdeocc.structures import segmentation_to_mask
                modal[k] = segmentation_to_mask(seg, image['height'],
                                                image['width']).astype(bool)
            amodal[k] = decode_rle(ann['amodal_segmentation']).astype(bool)
        cats = np.array([a['category_id'] for a in anns], np.int64)
        out[image['file_name']] = (modal, amodal, cats)
    return out


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (tools/ is not a package)."""
    import importlib.util
    path = REPO_ROOT / 'tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'mmdeocc_tool_{name}',
                                                  str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def box_only_detector_config():
    """A tiny Faster R-CNN (boxes only) config."""
    from mmengine.config import Config
    text = '\n'.join([
        "_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'",
        'model = dict(',
        '    backbone=dict(depth=18, base_channels=16, init_cfg=None),',
        '    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),',
        '    rpn_head=dict(in_channels=32, feat_channels=32),',
        '    roi_head=dict(',
        '        bbox_roi_extractor=dict(out_channels=32),',
        '        bbox_head=dict(in_channels=32, fc_out_channels=32,',
        '                       num_classes=10)))',
    ])
    return Config.fromstring(text, file_format='.py')
