"""Run the de-occlusion benchmark described by an evaluation config.

This module's one job is the config plumbing around
:class:`~mmdeocc.evaluation.DeOcclusionEvaluator`: read an mmengine
:class:`~mmengine.config.Config` (``test_dataloader.dataset``,
``deoccluder``, ``model`` / ``sup_model`` and ``deocc_eval``), build the
dataset (:func:`build_eval_dataset`), load the PCNet-M / PCNet-Sup
checkpoints, pick the device (:func:`resolve_eval_device`), build the
evaluator and run it (:func:`evaluate_from_config`). The loop itself lives
in :mod:`mmdeocc.evaluation.deocclusion_evaluator`, the report writing in
:mod:`mmdeocc.evaluation.report`.

Example::

    from mmdeocc.evaluation import evaluate_from_config, format_markdown
    results = evaluate_from_config(
        'configs/eval/deocc_scenes_unseen.py',
        'work_dirs/pcnet_m_shapes_cpu/iter_2000.pth',
        methods=['ours', 'ours_nog', 'raw'])
    print(format_markdown(results))
"""
import logging
import os.path as osp
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from torch import nn

from mmdeocc.deocclusion import NETWORK_METHODS
from .deocclusion_evaluator import (DeOcclusionEvalError,
                                    DeOcclusionEvaluator, parse_methods)

__all__ = ['build_eval_dataset', 'evaluate_from_config', 'resolve_eval_device']

#: Keys accepted in a config's ``deocc_eval`` dict.
DEOCC_EVAL_KEYS = ('methods', 'gt_order', 'tie_rule',
                   'annotation_touching_only', 'skip_empty_modal',
                   'sup_order', 'name')


def resolve_eval_device(device: Optional[Union[str, torch.device]]
                        ) -> torch.device:
    """The device the benchmark runs on.

    Args:
        device (str | torch.device, optional): ``'auto'`` or None for CUDA
            when available (else the CPU), or any ``torch.device`` spec
            (``'cpu'``, ``'cuda:1'``, ...).

    Returns:
        torch.device: The device.
    """
    if device is None or str(device) == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def _load_model(checkpoint: str, model_cfg: Optional[Mapping[str, Any]],
                device: torch.device, what: str) -> nn.Module:
    """Load a PCNet-M (or PCNet-Sup) checkpoint weights-only.

    Args:
        checkpoint (str): Checkpoint path (``~`` is expanded).
        model_cfg (Mapping, optional): Model config used instead of the
            one stored in the checkpoint.
        device (torch.device): Device of the loaded model.
        what (str): Model name used in the error message.

    Returns:
        nn.Module: The model.

    Raises:
        FileNotFoundError: The checkpoint does not exist.
    """
    from mmdeocc.models import load_pcnet_m
    if not osp.isfile(osp.expanduser(str(checkpoint))):
        raise FileNotFoundError(f'{what} checkpoint {checkpoint} does not '
                                'exist')
    return load_pcnet_m(
        checkpoint,
        device=device,
        model_cfg=dict(model_cfg) if model_cfg is not None else None)


def build_eval_dataset(cfg: Config) -> Any:
    """Build ``test_dataloader.dataset`` of a config (fully loaded).

    Args:
        cfg (Config): The evaluation config.

    Returns:
        BaseDataset: The dataset (its ``get_data_info(i)`` are canonical
        records).

    Raises:
        DeOcclusionEvalError: The config has no ``test_dataloader.dataset``.
        FileNotFoundError: Its ``ann_file`` does not exist.
    """
    from mmdet.registry import DATASETS
    loader = cfg.get('test_dataloader')
    dataset_cfg = loader.get('dataset') if loader else None
    if not dataset_cfg:
        raise DeOcclusionEvalError(
            'the config has no test_dataloader.dataset (e.g. '
            "dict(type='AmodalCocoDataset', ann_file=...))")
    dataset_cfg = dict(dataset_cfg)
    dataset_cfg.setdefault('test_mode', True)
    # only the records are read (ground-truth masks in, no images): a
    # detector pipeline would load images and need mmdet's transform scope
    dataset_cfg['pipeline'] = []
    ann_file = dataset_cfg.get('ann_file', '')
    full = osp.join(dataset_cfg.get('data_root', '') or '', ann_file or '')
    if ann_file and not osp.isfile(full):
        raise FileNotFoundError(
            f'test_dataloader.dataset.ann_file {full} does not exist')
    dataset = DATASETS.build(dataset_cfg)
    dataset.full_init()
    return dataset


#: Model types an evaluation config may carry (the PCNet-M to evaluate).
PCNET_MODEL_TYPES = ('PCNetM', 'mmdet.PCNetM')


def _refuse_detector_config(cfg: Config, path: Optional[str]) -> None:
    """A detector config is tested with tools/test.py, not here."""
    model = cfg.get('model', None) or {}
    kind = model.get('type') if hasattr(model, 'get') else None
    if 'deocc_eval' in cfg or kind is None or kind in PCNET_MODEL_TYPES:
        return
    raise DeOcclusionEvalError(
        f'{path or "the config"} is a detector config (model type {kind}); '
        'the de-occlusion benchmark takes an evaluation config '
        '(configs/deocclusion/deocclusion-eval_*.py). Test a detector with '
        'de-occlusion attached with tools/test.py CONFIG CHECKPOINT')


def evaluate_from_config(cfg: Union[str, Config],
                         checkpoint: Optional[str] = None,
                         methods: Union[str, Sequence[str], None] = None,
                         sup_checkpoint: Optional[str] = None,
                         gt_order: Optional[str] = None,
                         sup_order: Optional[str] = None,
                         batch_size: Optional[int] = None,
                         fast: Optional[bool] = None,
                         device: Optional[Union[str, torch.device]] = 'auto',
                         max_images: Optional[int] = None,
                         progress: bool = True,
                         images_per_batch: int = 8) -> Dict[str, Any]:
    """Run the benchmark described by an evaluation config.

    Config keys: ``test_dataloader.dataset`` (an image-level dataset with
    canonical records, e.g. ``AmodalCocoDataset``, ``KINSAmodalDataset``,
    ``COCOAmodalDataset``), ``deoccluder`` (DeOccluder options), optional
    ``model`` / ``sup_model`` (model configs used instead of the configs
    stored in the checkpoints) and optional ``deocc_eval`` (defaults of
    ``methods``, ``gt_order``, ``tie_rule``, ``annotation_touching_only``,
    ``skip_empty_modal``, ``sup_order``, and ``name`` shown in the table
    header). Arguments given here override the config.

    Args:
        cfg (str | Config): Config path or object.
        checkpoint (str, optional): PCNet-M checkpoint (None or ``'none'``
            when only baselines are evaluated).
        methods (str | Sequence[str], optional): Methods to evaluate.
        sup_checkpoint (str, optional): PCNet-Sup checkpoint; adds the
            ``'sup'`` row.
        gt_order (str, optional): ``'masks'`` or ``'annotation'``.
        sup_order (str, optional): Ordering used by PCNet-Sup.
        batch_size (int, optional): Crops per network call.
        fast (bool, optional): DeOccluder fast mode.
        device (str | torch.device, optional): ``'auto'`` (CUDA if
            available), ``'cpu'``, ``'cuda:0'``, ...
        max_images (int, optional): Evaluate only the first images.
        progress (bool): Progress bar.
        images_per_batch (int): Images whose network crops are batched
            together (results do not depend on it).

    Returns:
        dict: :meth:`DeOcclusionEvaluator.compute` plus ``checkpoint``,
        ``sup_checkpoint`` and ``config`` entries.
    """
    if isinstance(cfg, str):
        if not osp.isfile(cfg):
            raise FileNotFoundError(f'config file {cfg} does not exist')
        cfg_path = cfg
        cfg = Config.fromfile(cfg)
    else:
        cfg_path = getattr(cfg, 'filename', None)
    _refuse_detector_config(cfg, cfg_path)
    eval_cfg = dict(cfg.get('deocc_eval', None) or {})
    unknown = sorted(set(eval_cfg) - set(DEOCC_EVAL_KEYS))
    if unknown:
        raise DeOcclusionEvalError(f'unknown deocc_eval keys {unknown}')
    if methods is None:
        methods = eval_cfg.get('methods')
    methods = parse_methods(methods)
    if checkpoint is not None and str(checkpoint).lower() == 'none':
        checkpoint = None
    if sup_checkpoint is not None and 'sup' not in methods:
        methods.append('sup')
    needs_model = any(m in NETWORK_METHODS for m in methods) or (
        'sup' in methods
        and (sup_order or eval_cfg.get('sup_order', 'ours')) == 'ours')
    if needs_model and checkpoint is None:
        net = [m for m in methods if m in NETWORK_METHODS] or ['sup']
        raise DeOcclusionEvalError(
            f'methods {", ".join(net)} need a PCNet-M checkpoint; got '
            "'none' (evaluate only baselines, or pass a checkpoint)")
    if checkpoint is not None and not osp.isfile(
            osp.expanduser(str(checkpoint))):
        raise FileNotFoundError(
            f'PCNet-M checkpoint {checkpoint} does not exist')
    if checkpoint is not None and not needs_model:
        print_log(
            f'no requested method uses the PCNet-M checkpoint {checkpoint}',
            logger='current', level=logging.WARNING)
    dev = resolve_eval_device(device)
    options = dict(cfg.get('deoccluder', None) or {})
    options['device'] = dev
    if batch_size is not None:
        options['batch_size'] = int(batch_size)
    if fast is not None:
        options['fast'] = bool(fast)

    dataset = build_eval_dataset(cfg)
    model = sup_model = None
    if checkpoint is not None and needs_model:
        model = _load_model(checkpoint, cfg.get('model', None), dev,
                            'PCNet-M')
    if 'sup' in methods:
        if sup_checkpoint is None:
            raise DeOcclusionEvalError(
                "method 'sup' needs a PCNet-Sup checkpoint (--sup-checkpoint)")
        sup_model = _load_model(sup_checkpoint, cfg.get('sup_model', None),
                                dev, 'PCNet-Sup')
    ds_cfg = cfg.test_dataloader.dataset
    name = eval_cfg.get('name') or osp.basename(
        str(ds_cfg.get('ann_file', '') or type(dataset).__name__))
    evaluator = DeOcclusionEvaluator(
        methods=methods,
        model=model,
        sup_model=sup_model,
        deoccluder_cfg=options,
        gt_order=gt_order or eval_cfg.get('gt_order', 'masks'),
        tie_rule=eval_cfg.get('tie_rule', 'reference'),
        annotation_touching_only=eval_cfg.get('annotation_touching_only',
                                              False),
        skip_empty_modal=eval_cfg.get('skip_empty_modal', True),
        sup_order=sup_order or eval_cfg.get('sup_order', 'ours'),
        dataset_name=f'{type(dataset).__name__} ({name})')
    results = evaluator.evaluate(dataset, max_images, progress,
                                 images_per_batch)
    results['config'] = cfg_path
    results['checkpoint'] = checkpoint
    results['sup_checkpoint'] = sup_checkpoint
    return results
