"""Checks of a training config before anything is built.

Files a config needs but that cannot be downloaded here (the ImageNet VGG16
weights of PCNet-C's perceptual and style losses, an initialisation
checkpoint in ``load_from``, the annotation file) are looked for first, so a
missing one is reported by name with what to do, instead of failing deep
inside a model constructor or the Runner.
"""
import os.path as osp
from typing import Any, Iterator, List, Tuple

from mmengine.config import Config

__all__ = ['MissingTrainingFileError', 'check_training_files']


class MissingTrainingFileError(FileNotFoundError):
    """A file the training config needs does not exist."""


def _vgg_configs(node: Any, path: str) -> Iterator[Tuple[str, Any]]:
    """``(dotted key, dict)`` of every VGG16Features config under ``node``."""
    if isinstance(node, dict):
        if node.get('type') in ('VGG16Features', 'mmdet.VGG16Features'):
            yield path, node
        for key, value in node.items():
            yield from _vgg_configs(value, f'{path}.{key}' if path else key)


def _loss_owner(key: str) -> str:
    """``model.inpainting_loss.vgg`` -> ``model.inpainting_loss``."""
    return key.rsplit('.', 1)[0]


def check_training_files(cfg: Config, source: str) -> None:
    """Refuse to start training when a needed local file is missing.

    Args:
        cfg (Config): The merged training config.
        source (str): The config file, named in messages.

    Raises:
        MissingTrainingFileError: A VGG16 weights file of an enabled
            perceptual/style loss, ``load_from`` (when not resuming) or the
            training annotation file does not exist; the message says where
            to put it or how to train without it.
    """
    problems: List[str] = []
    for key, vgg in _vgg_configs(cfg.get('model', {}), 'model'):
        owner = cfg.get('model', {})
        for part in _loss_owner(key).split('.')[1:]:
            owner = owner.get(part, {})
        if float(owner.get('perceptual_weight', 1.0)) == 0 and float(
                owner.get('style_weight', 1.0)) == 0:
            continue  # no VGG is built
        weights = vgg.get('weights', None)
        if weights and not osp.isfile(weights):
            loss = _loss_owner(key)
            problems.append(
                f'{key}.weights = {weights} does not exist. The perceptual '
                'and style losses need ImageNet VGG16 weights (torchvision\'s '
                'vgg16-397923af.pth, keys features.N.weight/bias), which '
                'cannot be downloaded here: put the file at that path, or '
                f'give its path with --cfg-options {key}.weights=PATH, or '
                'train without these two terms: --cfg-options '
                f'{loss}.perceptual_weight=0 {loss}.style_weight=0')
    load_from = cfg.get('load_from', None)
    if load_from and not cfg.get('resume', False) and not osp.isfile(
            load_from) and '://' not in str(load_from):
        problems.append(
            f'load_from = {load_from} does not exist: make it (see the '
            'config\'s comments, e.g. tools/expand_inpainting_ckpt.py for '
            'PCNet-C) or train from scratch with --cfg-options '
            'load_from=None')
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    ann_file = dataset.get('ann_file', None) if isinstance(dataset,
                                                           dict) else None
    if ann_file:
        root = dataset.get('data_root', '') or ''
        full = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
        if not osp.isfile(full):
            problems.append(
                f'train_dataloader.dataset.ann_file = {full} does not '
                'exist: give the training annotation file with '
                '--cfg-options train_dataloader.dataset.ann_file=PATH')
    if problems:
        raise MissingTrainingFileError(
            f'{source}: ' + '; '.join(problems) if len(problems) == 1 else
            f'{source}: {len(problems)} files are missing: ' +
            ' | '.join(f'({k + 1}) {p}' for k, p in enumerate(problems)))
