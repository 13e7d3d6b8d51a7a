"""The one path from settings to a :class:`DeOccluder`.

Every entry point (the evaluation loop, pseudo-label generation, the
MMDetection hook and model wrapper, the inferencer) turns its settings into
a :class:`DeOccluder` with :func:`build_deoccluder`, and every option dict
is checked against the constructor's arguments by :func:`check_options`.
"""
import inspect
from typing import (Any, Callable, Collection, FrozenSet, Mapping, Optional,
                    Type)

from mmdet.registry import MODELS

from mmdeocc.models import load_pcnet_m
from .deoccluder import DeOccluder, DeOcclusionConfigError

__all__ = [
    'DEOCCLUDER_OPTIONS', 'BUILD_KEYS', 'keyword_arguments', 'check_options',
    'build_deoccluder'
]


def keyword_arguments(func: Callable, *, exclude: Collection[str] = ()
                      ) -> FrozenSet[str]:
    """Names of the keyword arguments of ``func`` (``self`` left out).

    Args:
        func (Callable): A function or a class (its ``__init__``).
        exclude (Collection[str]): Names to leave out.

    Returns:
        frozenset[str]: The argument names.
    """
    target = func.__init__ if inspect.isclass(func) else func
    names = set(inspect.signature(target).parameters) - {'self'}
    return frozenset(names - set(exclude))


#: Options of :class:`DeOccluder` besides the model.
DEOCCLUDER_OPTIONS = keyword_arguments(DeOccluder, exclude=('model', ))
#: Extra keys :func:`build_deoccluder` understands.
BUILD_KEYS = frozenset(('type', 'model', 'checkpoint', 'cfg_options'))


def check_options(options: Mapping[str, Any],
                  valid: Collection[str],
                  what: str,
                  error: Type[Exception] = DeOcclusionConfigError,
                  reserved: Optional[Mapping[str, str]] = None) -> None:
    """Refuse unknown (and reserved) keys of an options dict.

    Args:
        options (Mapping): The options.
        valid (Collection[str]): Accepted keys.
        what (str): What the options are, for the message (e.g.
            ``'deoccluder options'``).
        error (type): Exception class to raise.
        reserved (Mapping[str, str], optional): Keys that are valid
            elsewhere but not here -> why (appended to the message).

    Raises:
        Exception: ``error`` naming the offending keys and the valid ones.
    """
    reserved = dict(reserved or {})
    refused = sorted(set(options) & set(reserved))
    if refused:
        why = '; '.join(sorted({reserved[k] for k in refused}))
        raise error(f'{what} {refused} are not accepted here: {why}')
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise error(f'unknown {what} {unknown}; valid: {sorted(valid)}')


def build_deoccluder(cfg: Mapping[str, Any]) -> DeOccluder:
    """Build a :class:`DeOccluder` from a config dict.

    Keys are :class:`DeOccluder`'s arguments plus:

    * ``model``: an ``nn.Module``, or a model config dict built with mmdet's
      ``MODELS`` registry (e.g. ``dict(type='PCNetM', width=2)``);
    * ``checkpoint``: path of a PCNet-M checkpoint, loaded weights-only with
      :func:`mmdeocc.models.load_pcnet_m` (the model config comes from the
      checkpoint, or from ``model`` when that is a dict);
    * ``cfg_options``: overrides of the checkpoint's model config;
    * ``type``: ignored if ``'DeOccluder'``.

    Args:
        cfg (Mapping): The config.

    Returns:
        DeOccluder: The de-occluder.
    """
    if not isinstance(cfg, Mapping):
        raise DeOcclusionConfigError(
            f'deoccluder config must be a dict, got {type(cfg).__name__}')
    cfg = dict(cfg)
    kind = cfg.pop('type', 'DeOccluder')
    if kind not in ('DeOccluder', DeOccluder):
        raise DeOcclusionConfigError(
            f"deoccluder config type must be 'DeOccluder', got {kind!r}")
    model = cfg.pop('model', None)
    checkpoint = cfg.pop('checkpoint', None)
    cfg_options = cfg.pop('cfg_options', None)
    device = cfg.get('device') or 'cpu'
    if checkpoint is not None:
        if model is not None and not isinstance(model, Mapping):
            raise DeOcclusionConfigError(
                'give either a model instance or a checkpoint (with an '
                'optional model config dict), not both')
        model = load_pcnet_m(
            checkpoint,
            device=device,
            cfg_options=cfg_options,
            model_cfg=dict(model) if model is not None else None)
    elif isinstance(model, Mapping):
        model = MODELS.build(dict(model))
    # the build keys were popped above; listed as valid in the message
    check_options(cfg, DEOCCLUDER_OPTIONS | BUILD_KEYS,
                  'deoccluder config keys')
    return DeOccluder(model=model, **cfg)
