"""Loading and saving PCNet-M and PCNet-C checkpoints safely.

mmengine's Runner stores the whole config as text in ``meta['cfg']``.
Executing that text (``Config.fromstring``) would run arbitrary code from the
checkpoint and defeat weights-only unpickling, so :func:`model_cfg_from_text`
reads the ``model = ...`` assignment with a literal-only evaluator instead.
"""
import ast
import os
import os.path as osp
import pickle
from typing import (Any, Callable, Dict, Iterable, Mapping, Optional, Tuple,
                    Type, Union)

import torch
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdeocc.structures.content_layers import ContentCompletionError
from mmdeocc.utils import UnsafeCheckpointError, safe_torch_load
from mmdeocc.utils.io import atomic_open
from .converters import _MAX_NAMED_KEYS, _name_keys, key_set_difference
from .pcnet_c import PCNetC
from .pcnet_m import PCNetM


class PCNetMCheckpointError(ValueError):
    """A checkpoint cannot be loaded as a PCNet-M model."""


class ConfigTextError(ValueError):
    """A config text does not hold a readable ``model`` literal."""


def _literal(node: ast.AST) -> Any:
    """Evaluate a literal config expression (constants, lists, tuples,
    dicts, ``dict(...)`` calls and signed numbers) without executing code."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(
            node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, bool) or not isinstance(value,
                                                     (int, float, complex)):
            raise ConfigTextError(
                f'line {node.lineno}: sign applied to a non-number')
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List):
        return [_literal(elt) for elt in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(elt) for elt in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise ConfigTextError(
                f'line {node.lineno}: ** unpacking is not a literal')
        return {
            _literal(key): _literal(value)
            for key, value in zip(node.keys, node.values)
        }
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and len(node.args) <= 1 and \
            all(kw.arg is not None for kw in node.keywords):
        # ``dict(a=1)``, and ``dict({1: 2})`` which mmengine's pretty_text
        # writes for dicts whose keys are not identifiers.
        result = {}
        if node.args:
            positional = _literal(node.args[0])
            if not isinstance(positional, dict):
                raise ConfigTextError(
                    f'line {node.lineno}: dict() of a non-dict literal')
            result.update(positional)
        result.update((kw.arg, _literal(kw.value)) for kw in node.keywords)
        return result
    raise ConfigTextError(
        f'line {getattr(node, "lineno", "?")}: {type(node).__name__} '
        'expressions are not literals')


def model_cfg_from_text(cfg_text: str) -> Dict[str, Any]:
    """Read the ``model`` dict of a config text without executing it.

    Args:
        cfg_text (str): Python config text, e.g. mmengine's
            ``Config.pretty_text`` stored in checkpoints as ``meta['cfg']``.

    Returns:
        dict: The (last) top-level ``model = ...`` value.

    Raises:
        ConfigTextError: If the text does not parse, has no top-level
            ``model`` assignment, or its value is not a plain literal.
    """
    if not isinstance(cfg_text, str):
        raise ConfigTextError(f'config text must be a str, got '
                              f'{type(cfg_text).__name__}')
    try:
        tree = ast.parse(cfg_text)
    except SyntaxError as err:
        raise ConfigTextError(f'config text does not parse: {err}') from None
    value_node = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model'
                for t in stmt.targets):
            value_node = stmt.value
    if value_node is None:
        raise ConfigTextError('config text has no top-level `model = ...`')
    model_cfg = _literal(value_node)
    if not isinstance(model_cfg, dict):
        raise ConfigTextError(f'config `model` is a '
                              f'{type(model_cfg).__name__}, not a dict')
    return model_cfg


def config_text_for_model(model_cfg: Mapping[str, Any]) -> str:
    """The config text (mmengine ``pretty_text``) holding ``model_cfg``.

    Args:
        model_cfg (Mapping): A model config dict.

    Returns:
        str: Python config text that :func:`model_cfg_from_text` reads back.
    """
    return Config(dict(model=dict(model_cfg))).pretty_text


def apply_cfg_options(model_cfg: Dict[str, Any],
                      cfg_options: Optional[Mapping[str, Any]]
                      ) -> Dict[str, Any]:
    """Override entries of a model config, like mmdet's ``--cfg-options``.

    Args:
        model_cfg (dict): The model config.
        cfg_options (Mapping, optional): Dotted keys relative to the whole
            config (``'model.use_category'``) or to the model dict
            (``'use_category'``) -> new values.

    Returns:
        dict: A new model config.
    """
    cfg = Config(dict(model=model_cfg))
    if cfg_options:
        cfg.merge_from_dict({
            key if key.startswith('model.') else f'model.{key}': value
            for key, value in cfg_options.items()
        })
    return cfg.to_dict()['model']


def save_checkpoint_atomic(checkpoint: Mapping[str, Any], path: str) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename.

    A crash never leaves a truncated file at ``path``.

    Args:
        checkpoint (Mapping): The object to save.
        path (str): Destination file; its folder is created if needed.
    """
    with atomic_open(path, 'wb') as f:
        torch.save(checkpoint, f)


def _guess_model_kind(keys) -> str:
    """A hint about what kind of model a state dict belongs to."""
    keys = [k[len('module.'):] if k.startswith('module.') else k for k in keys]
    if 'inc.conv.conv.0.weight' in keys:
        return (' It is a reference (official) PCNet-M state dict: convert '
                'it with tools/convert_official_ckpt.py first.')
    if any(k.startswith(('enc_', 'dec_', 'generator.', 'discriminator.'))
           for k in keys):
        return ' It looks like a PCNet-C checkpoint.'
    if any(k.startswith(('backbone.', 'neck.', 'roi_head.', 'rpn_head.',
                         'bbox_head.')) for k in keys):
        return ' It looks like a detector checkpoint.'
    return ''


def _check_state_dict(model: PCNetM, state_dict: Mapping[str, Any],
                      path: str) -> None:
    """Raise :class:`PCNetMCheckpointError` unless ``state_dict`` fits
    ``model`` exactly (keys and shapes)."""
    not_tensors = [
        str(k) for k, v in state_dict.items()
        if not isinstance(k, str) or not isinstance(v, torch.Tensor)
    ]
    if not_tensors:
        raise PCNetMCheckpointError(
            f'checkpoint {path}: state_dict entries that are not tensors: '
            f'{_name_keys(not_tensors)}')
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    difference = key_set_difference(state_dict, expected)
    if difference:
        raise PCNetMCheckpointError(
            f'checkpoint {path} does not hold a PCNet-M state dict; ' +
            difference + '.' + _guess_model_kind(state_dict))
    first = 'unet.in_conv.conv1.weight'
    got_first = tuple(state_dict[first].shape)
    if got_first != expected[first]:
        raise PCNetMCheckpointError(
            f'checkpoint {path}: PCNet-M width mismatch: the weights have '
            f'{got_first[0]} channels in the first conv (width '
            f'{got_first[0] / 16:g}) but the config builds width '
            f'{model.width:g} ({expected[first][0]} channels). Fix '
            "cfg_options={'model.width': ...} or the model config.")
    bad = [
        f'{k}: {tuple(v.shape)} vs {expected[k]}'
        for k, v in state_dict.items() if tuple(v.shape) != expected[k]
    ]
    if bad:
        raise PCNetMCheckpointError(
            f'checkpoint {path}: tensor shapes differ from the model built '
            f'from its config (checkpoint vs model): '
            + '; '.join(bad[:_MAX_NAMED_KEYS]))


def read_checkpoint(path: str) -> Dict[str, Any]:
    """Load a checkpoint file weights-only and check it is a dict.

    Args:
        path (str): Checkpoint path.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: If the file does not exist.
        UnsafeCheckpointError: If it pickles disallowed objects.
        PCNetMCheckpointError: If it is unreadable or not a dict.
    """
    try:
        checkpoint = safe_torch_load(path, map_location='cpu')
    except (FileNotFoundError, UnsafeCheckpointError):
        raise
    except (RuntimeError, EOFError, pickle.UnpicklingError, OSError) as err:
        raise PCNetMCheckpointError(
            f'cannot read checkpoint {path}: {err}') from None
    if not isinstance(checkpoint, dict):
        raise PCNetMCheckpointError(
            f'checkpoint {path} is a {type(checkpoint).__name__}, expected a '
            "dict with a 'state_dict' entry")
    return checkpoint


def read_model_checkpoint(
    checkpoint: Union[str, 'os.PathLike'],
    base_cls: type,
    error: Type[Exception],
    cfg_options: Optional[Mapping[str, Any]] = None,
    model_cfg: Optional[Mapping[str, Any]] = None,
    hint: Callable[[Iterable[str]], str] = lambda keys: ''
) -> Tuple[str, Mapping[str, Any], Dict[str, Any]]:
    """Read a checkpoint and the config of the model it holds.

    Shared by :func:`load_pcnet_m` and :func:`load_pcnet_c`: weights-only
    unpickling, a ``state_dict`` dict, the model config from ``model_cfg``
    or from the config text in ``meta['cfg']`` (read without executing it),
    the ``cfg_options`` overrides, and a model type that is ``base_cls`` or
    a subclass.

    Args:
        checkpoint (str | PathLike): Checkpoint path.
        base_cls (type): The model class expected.
        error (type): Exception class raised for every problem but a
            missing file.
        cfg_options (Mapping, optional): Model config overrides.
        model_cfg (Mapping, optional): Config to use instead of the
            checkpoint's.
        hint (Callable): Keys -> a sentence appended to messages (what the
            checkpoint looks like instead).

    Returns:
        tuple: ``(path, state_dict, model_cfg)``.

    Raises:
        FileNotFoundError: If the file does not exist.
        UnsafeCheckpointError: If it pickles disallowed objects.
        Exception: ``error`` for an unreadable file, no ``state_dict``, no
            usable config or another model type (with
            ``PCNetMCheckpointError``, a corrupt file keeps its
            ``CorruptCheckpointError``).
    """
    path = osp.expanduser(os.fspath(checkpoint))
    try:
        ckpt = read_checkpoint(path)
    except ValueError as err:  # unreadable, corrupt or not a dict
        if error is PCNetMCheckpointError:
            raise
        raise error(str(err)) from None
    state_dict = ckpt.get('state_dict')
    if not isinstance(state_dict, Mapping):
        raise error(
            f"checkpoint {path} has no 'state_dict' dict (top-level keys: "
            f'{_name_keys(map(str, ckpt))}).' +
            hint([k for k in ckpt if isinstance(k, str)]))
    name = base_cls.__name__
    if model_cfg is None:
        meta = ckpt.get('meta')
        cfg_text = meta.get('cfg') if isinstance(meta, Mapping) else None
        if cfg_text is None:
            raise error(f"checkpoint {path} has no config (meta['cfg']); "
                        f"pass model_cfg=dict(type='{name}', ...) "
                        'explicitly.' + hint(state_dict))
        try:
            model_cfg = model_cfg_from_text(cfg_text)
        except ConfigTextError as err:
            raise error(f"checkpoint {path}: cannot read meta['cfg']: "
                        f'{err}; pass model_cfg explicitly.') from None
    model_cfg = apply_cfg_options(dict(model_cfg), cfg_options)
    model_type = model_cfg.get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type, str) \
        else model_type
    if not (isinstance(model_cls, type) and issubclass(model_cls, base_cls)):
        raise error(f'checkpoint {path} is for model type {model_type!r}, '
                    f"not '{name}'." + hint(state_dict))
    return path, state_dict, model_cfg


def load_pcnet_m(checkpoint: Union[str, 'os.PathLike'],
                 device: Union[str, torch.device] = 'cpu',
                 cfg_options: Optional[Mapping[str, Any]] = None,
                 model_cfg: Optional[Mapping[str, Any]] = None) -> PCNetM:
    """Build a :class:`PCNetM` from a checkpoint and load its weights.

    The model config comes from ``model_cfg`` when given, otherwise from the
    config text mmengine's Runner stores in ``checkpoint['meta']['cfg']``
    (read without executing it). Weights are loaded strictly after
    weights-only unpickling; the model is returned in eval mode.

    Args:
        checkpoint (str | PathLike): Path of an mmdeocc checkpoint (from
            training, or from ``tools/convert_official_ckpt.py``).
        device (str | torch.device): Device of the returned model.
        cfg_options (Mapping, optional): Overrides of the model config, e.g.
            ``{'model.use_category': True}`` (keys may omit ``model.``).
        model_cfg (Mapping, optional): The model config to use instead of
            the checkpoint's (needed for checkpoints without
            ``meta['cfg']``).

    Returns:
        PCNetM: The model, in eval mode, on ``device``.

    Raises:
        FileNotFoundError: If the file does not exist.
        PCNetMCheckpointError: If the checkpoint is not a dict, has no
            ``state_dict``, has no usable config, is not a PCNet-M, or its
            weights do not fit the config (keys or width).
    """
    path, state_dict, model_cfg = read_model_checkpoint(
        checkpoint, PCNetM, PCNetMCheckpointError, cfg_options, model_cfg,
        hint=_guess_model_kind)
    model = MODELS.build(model_cfg)
    _check_state_dict(model, state_dict, path)
    model.load_state_dict(state_dict, strict=True)
    return model.to(device).eval()


def load_pcnet_c(checkpoint: Union[str, 'os.PathLike'],
                 device: Union[str, torch.device] = 'cpu',
                 cfg_options: Optional[Mapping[str, Any]] = None,
                 model_cfg: Optional[Mapping[str, Any]] = None) -> PCNetC:
    """Build a PCNet-C for inference from a checkpoint (weights-only).

    The model config comes from ``model_cfg`` or from the config text the
    Runner (or ``tools/convert_official_ckpt.py``) stored in
    ``meta['cfg']``, read without executing it. The inpainting loss is built
    without its VGG16 (inference does not need it). Every ``generator.*``
    tensor must be present and fit; ``discriminator.*`` tensors are loaded
    when present (converted reference checkpoints have none); the loss
    modules' tensors are ignored.

    Args:
        checkpoint (str | PathLike): mmdeocc PCNet-C checkpoint.
        device (str | torch.device): Device of the returned model.
        cfg_options (Mapping, optional): Model config overrides
            (``{'model.use_category': True}``; ``model.`` may be omitted).
        model_cfg (Mapping, optional): Model config to use instead of the
            checkpoint's.

    Returns:
        PCNetC: The model, in eval mode, on ``device``.

    Raises:
        FileNotFoundError: Missing file.
        ContentCompletionError: Not a PCNet-C checkpoint, no usable config,
            or weights that do not fit.
    """
    path, state_dict, model_cfg = read_model_checkpoint(
        checkpoint, PCNetC, ContentCompletionError, cfg_options, model_cfg)
    model_cfg['inpainting_loss'] = dict(
        type='PCNetCInpaintingLoss', perceptual_weight=0.0, style_weight=0.0)
    model = MODELS.build(model_cfg)
    for part, required in (('generator', True), ('discriminator', False)):
        prefix = part + '.'
        tensors = {
            key[len(prefix):]: value
            for key, value in state_dict.items()
            if isinstance(key, str) and key.startswith(prefix)
        }
        if not tensors and not required:
            continue
        module = getattr(model, part)
        expected = module.state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        bad = [
            f'{prefix}{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}'
            for k, v in tensors.items()
            if k in expected and tuple(v.shape) != tuple(expected[k].shape)
        ]
        if missing or unexpected or bad:
            raise ContentCompletionError(
                f'checkpoint {path}: the {part} weights do not fit the '
                f'PCNet-C config (missing {[prefix + k for k in missing][:8]}'
                f', unexpected {[prefix + k for k in unexpected][:8]}, '
                f'shapes {bad[:8]})')
        module.load_state_dict(tensors, strict=True)
    return model.to(device).eval()
