"""Optimiser-wrapper constructor for models trained with several optimisers.

mmengine 0.10 ships no constructor that builds one optimiser per sub-module
(``MultiOptimWrapperConstructor`` lives in mmagic, which mmdeocc does not
depend on), so this small one is registered in mmdet's
``OPTIM_WRAPPER_CONSTRUCTORS``.
"""
from typing import Optional

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['PCNetCOptimWrapperConstructor', 'OptimWrapperConfigError']


class OptimWrapperConfigError(ValueError):
    """Raised when ``optim_wrapper`` does not fit the model's sub-modules."""


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PCNetCOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` with one optimiser per child module.

    Every key of ``optim_wrapper_cfg`` names a direct child module of the
    model; its value is an ordinary optim-wrapper config (``type``
    defaults to ``'OptimWrapper'``; ``optimizer`` required;
    ``paramwise_cfg`` optional), built by mmengine's
    ``DefaultOptimWrapperConstructor`` on that child. Example for
    :class:`mmdeocc.models.PCNetC` (METHOD 3.4)::

        optim_wrapper = dict(
            constructor='PCNetCOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=1e-4)),
            discriminator=dict(
                optimizer=dict(type='Adam', lr=1e-5, betas=(0.0, 0.9))))

    Every trainable parameter of the model must belong to one of the named
    children, otherwise it would silently never be updated: that raises.

    Args:
        optim_wrapper_cfg (dict): ``{child_name: optim_wrapper_config}``.
        paramwise_cfg (dict, optional): Must be None: give
            ``paramwise_cfg`` inside each child's config instead.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if not isinstance(optim_wrapper_cfg, dict) or not optim_wrapper_cfg:
            raise OptimWrapperConfigError(
                'optim_wrapper: expected {child_name: dict(optimizer=...)}, '
                f'got {optim_wrapper_cfg!r}')
        if paramwise_cfg is not None:
            raise OptimWrapperConfigError(
                'optim_wrapper.paramwise_cfg: put paramwise_cfg inside each '
                'child config (e.g. generator=dict(optimizer=..., '
                'paramwise_cfg=...))')
        self.constructors = {}
        for name, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or 'optimizer' not in cfg:
                raise OptimWrapperConfigError(
                    f'optim_wrapper.{name}: expected a dict with an '
                    f'"optimizer" entry, got {cfg!r}')
            cfg = dict(cfg)
            cfg.setdefault('type', 'OptimWrapper')
            child_paramwise = cfg.pop('paramwise_cfg', None)
            self.constructors[name] = DefaultOptimWrapperConstructor(
                cfg, child_paramwise)

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        """Build the wrappers.

        Args:
            model (nn.Module): The model (a wrapper with ``.module`` is
                unwrapped).

        Returns:
            OptimWrapperDict: One wrapper per configured child.
        """
        while hasattr(model, 'module') and isinstance(model.module,
                                                      nn.Module):
            model = model.module
        children = dict(model.named_children())
        wrappers = {}
        covered = set()
        for name, constructor in self.constructors.items():
            if name not in children:
                raise OptimWrapperConfigError(
                    f'optim_wrapper.{name}: {type(model).__name__} has no '
                    f'child module {name!r} (children: {sorted(children)})')
            wrappers[name] = constructor(children[name])
            covered.update(id(p) for p in children[name].parameters())
        orphans = [
            name for name, param in model.named_parameters()
            if param.requires_grad and id(param) not in covered
        ]
        if orphans:
            raise OptimWrapperConfigError(
                f'optim_wrapper: trainable parameters outside '
                f'{sorted(self.constructors)} would never be updated: '
                f'{orphans[:5]}{" ..." if len(orphans) > 5 else ""}')
        return OptimWrapperDict(**wrappers)
