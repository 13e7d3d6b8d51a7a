"""module_device: the device of a module's first parameter."""
import torch
from torch import nn

from mmdeocc.utils import module_device


def test_device_of_first_parameter():
    assert module_device(nn.Linear(2, 2)) == torch.device('cpu')
    meta = nn.Linear(2, 2, device='meta')
    assert module_device(meta) == torch.device('meta')


def test_module_without_parameters_is_on_the_cpu():
    assert module_device(nn.ReLU()) == torch.device('cpu')
    with_buffer = nn.Module()
    with_buffer.register_buffer('scale', torch.ones(1, device='meta'))
    assert module_device(with_buffer) == torch.device('cpu')
