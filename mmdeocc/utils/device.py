"""Where a module's weights live: :func:`module_device`."""
import torch
from torch import nn

__all__ = ['module_device']


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter.

    Buffers are not looked at: a module without parameters (with buffers
    only, or with nothing) is reported on the CPU.

    Args:
        module (nn.Module): The module.

    Returns:
        torch.device: Device of ``next(module.parameters())``, or
        ``torch.device('cpu')`` when the module has no parameters.
    """
    for param in module.parameters():
        return param.device
    return torch.device('cpu')
