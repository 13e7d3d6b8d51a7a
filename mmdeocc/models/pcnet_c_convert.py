"""Convert PCNet-C generator weights between the reference layout and ours.

Reference layout (METHOD 6; keys usually carry a ``module.`` prefix) and
ours (``generator.`` prefix inside :class:`PCNetC`), for k = 1..7::

    enc_k.conv.input_conv.weight  -> encoders.{k-1}.pconv.weight
    enc_k.conv.mask_conv.weight   -> encoders.{k-1}.pconv.mask_weight
    enc_k.bn.<field>              -> encoders.{k-1}.norm.<field>
    dec_k.conv.input_conv.weight  -> decoders.{k-1}.pconv.weight
    dec_k.conv.input_conv.bias    -> decoders.{k-1}.pconv.bias  (dec_1 only)
    dec_k.conv.mask_conv.weight   -> decoders.{k-1}.pconv.mask_weight
    dec_k.bn.<field>              -> decoders.{k-1}.norm.<field>

with ``<field>`` one of weight, bias, running_mean, running_var,
num_batches_tracked (no BN in enc_1 and dec_1).

The mapping is one-to-one and total: every key must be known, every
expected key present (``num_batches_tracked`` may be absent, as in
checkpoints written by PyTorch < 0.4.1; it is then set to 0) and every shape
right. The frozen ``mask_conv`` kernels are copied as stored, so zero
channels (see :func:`expand_inpainting_checkpoint`) survive.

Used by ``tools/convert_official_ckpt.py`` (lazy import).
"""
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor

from .pconv_unet import generator_layer_shapes

__all__ = [
    'PCNetCCheckpointError', 'reference_to_mmdeocc_pcnet_c',
    'mmdeocc_to_reference_pcnet_c', 'expand_inpainting_checkpoint'
]

_BN_FIELDS = ('weight', 'bias', 'running_mean', 'running_var',
              'num_batches_tracked')
_REFERENCE_KEY = re.compile(
    r'^(enc|dec)_(\d+)\.(conv\.input_conv\.weight|conv\.input_conv\.bias|'
    r'conv\.mask_conv\.weight|bn\.(?:' + '|'.join(_BN_FIELDS) + r'))$')
_OURS_KEY = re.compile(
    r'^(encoders|decoders)\.(\d+)\.(pconv\.weight|pconv\.bias|'
    r'pconv\.mask_weight|norm\.(?:' + '|'.join(_BN_FIELDS) + r'))$')
_REF_TO_OURS_FIELD = {
    'conv.input_conv.weight': 'pconv.weight',
    'conv.input_conv.bias': 'pconv.bias',
    'conv.mask_conv.weight': 'pconv.mask_weight',
}
_OURS_TO_REF_FIELD = {value: key for key, value in _REF_TO_OURS_FIELD.items()}


class PCNetCCheckpointError(ValueError):
    """Raised for unknown, missing or mis-shaped PCNet-C checkpoint keys."""


def _unwrap(state_dict: Mapping) -> Mapping:
    """Accept a bare state dict or a checkpoint dict holding one."""
    if not isinstance(state_dict, Mapping):
        raise PCNetCCheckpointError(
            f'expected a state dict, got {type(state_dict).__name__}')
    if state_dict and all(
            isinstance(value, Tensor) for value in state_dict.values()):
        return state_dict
    for wrapper in ('state_dict', 'model'):
        if isinstance(state_dict.get(wrapper), Mapping):
            return state_dict[wrapper]
    raise PCNetCCheckpointError(
        'expected a state dict of tensors (or a checkpoint with a '
        f'"state_dict" / "model" entry), got keys {sorted(state_dict)[:10]}')


def _expected_shapes(in_channels: int) -> Dict[Tuple[str, int], dict]:
    """``(kind, level) -> {field: shape}`` in the reference's field names."""
    expected = {}
    for layer in generator_layer_shapes(in_channels):
        out, k = layer['out_channels'], layer['kernel_size']
        weight = (out, layer['in_channels'], k, k)
        fields = {
            'conv.input_conv.weight': weight,
            'conv.mask_conv.weight': weight,
        }
        if layer['bias']:
            fields['conv.input_conv.bias'] = (out, )
        if layer['norm']:
            for name in _BN_FIELDS:
                fields[f'bn.{name}'] = () if name == \
                    'num_batches_tracked' else (out, )
        expected[(layer['kind'], layer['level'])] = fields
    return expected


def _strip_module_prefix(state_dict: Mapping) -> Dict[str, Tensor]:
    keys = list(state_dict)
    if keys and all(key.startswith('module.') for key in keys):
        return {key[len('module.'):]: value
                for key, value in state_dict.items()}
    return dict(state_dict)


def _infer_in_channels(state: Mapping[str, Tensor]) -> int:
    key = 'enc_1.conv.input_conv.weight'
    if key not in state:
        raise PCNetCCheckpointError(
            f'missing {key!r}: not a PCNet-C / partial-conv UNet generator '
            f'state dict (first keys: {sorted(state)[:5]})')
    return int(state[key].shape[1])


def _check_shape(key: str, value, shape: Tuple[int, ...]) -> None:
    if not isinstance(value, Tensor):
        raise PCNetCCheckpointError(
            f'{key!r}: expected a tensor, got {type(value).__name__}')
    if tuple(value.shape) != tuple(shape):
        raise PCNetCCheckpointError(
            f'{key!r}: shape {tuple(value.shape)}, expected {tuple(shape)}')


def reference_to_mmdeocc_pcnet_c(state_dict: Mapping[str, Tensor],
                                 prefix: str = 'generator.',
                                 in_channels: Optional[int] = None
                                 ) -> 'OrderedDict[str, Tensor]':
    """Map a reference PCNet-C generator state dict onto :class:`PCNetC`.

    Args:
        state_dict (Mapping[str, Tensor]): The reference ``state_dict``
            (keys with or without ``module.``); a checkpoint dict with a
            ``state_dict`` or ``model`` entry is unwrapped.
        prefix (str): Prefix of the output keys: ``'generator.'`` for a
            :class:`PCNetC` state dict, ``''`` for a bare
            :class:`PCNetCGenerator`.
        in_channels (int, optional): Expected generator input channels;
            inferred from ``enc_1`` when None (4 for PCNet-C, 3 for a plain
            partial-conv inpainting model).

    Returns:
        OrderedDict[str, Tensor]: Our keys, tensors unchanged (not copied).

    Raises:
        PCNetCCheckpointError: Unknown key, missing key or wrong shape.
    """
    state = _strip_module_prefix(_unwrap(state_dict))
    if in_channels is None:
        in_channels = _infer_in_channels(state)
    expected = _expected_shapes(in_channels)
    converted = OrderedDict()
    seen = set()
    for key, value in state.items():
        match = _REFERENCE_KEY.match(key)
        layer = None if match is None else (match.group(1),
                                            int(match.group(2)))
        if layer not in expected or match.group(3) not in expected[layer]:
            raise PCNetCCheckpointError(
                f'unknown key {key!r} in a PCNet-C generator state dict '
                f'(in_channels={in_channels})')
        field = match.group(3)
        _check_shape(key, value, expected[layer][field])
        group = 'encoders' if layer[0] == 'enc' else 'decoders'
        ours_field = _REF_TO_OURS_FIELD.get(field,
                                            field.replace('bn.', 'norm.', 1))
        converted[f'{prefix}{group}.{layer[1] - 1}.{ours_field}'] = value
        seen.add((layer, field))
    missing = []
    for layer, fields in expected.items():
        for field in fields:
            if (layer, field) in seen:
                continue
            if field == 'bn.num_batches_tracked':
                group = 'encoders' if layer[0] == 'enc' else 'decoders'
                converted[f'{prefix}{group}.{layer[1] - 1}.norm.'
                          'num_batches_tracked'] = torch.tensor(
                              0, dtype=torch.long)
                continue
            missing.append(f'{layer[0]}_{layer[1]}.{field}')
    if missing:
        raise PCNetCCheckpointError(
            f'missing {len(missing)} key(s) of the PCNet-C generator: '
            f'{missing[:10]}')
    return converted


def mmdeocc_to_reference_pcnet_c(state_dict: Mapping[str, Tensor],
                                 prefix: str = 'generator.',
                                 module_prefix: str = 'module.'
                                 ) -> 'OrderedDict[str, Tensor]':
    """Inverse of :func:`reference_to_mmdeocc_pcnet_c`.

    Args:
        state_dict (Mapping[str, Tensor]): Our state dict. With
            ``prefix='generator.'`` (a :class:`PCNetC` state dict) the keys
            outside the generator (discriminator, VGG) are dropped: the
            reference stores them elsewhere or not at all.
        prefix (str): Prefix of the generator keys in ``state_dict``.
        module_prefix (str): Prefix of the output keys (the reference's
            ``module.``).

    Returns:
        OrderedDict[str, Tensor]: Reference-layout generator state dict.

    Raises:
        PCNetCCheckpointError: Unknown generator key, missing key or wrong
            shape.
    """
    state = {
        key[len(prefix):]: value
        for key, value in _unwrap(state_dict).items()
        if key.startswith(prefix)
    }
    if 'encoders.0.pconv.weight' not in state:
        raise PCNetCCheckpointError(
            f'missing {prefix}encoders.0.pconv.weight: not a PCNet-C '
            'generator state dict')
    in_channels = int(state['encoders.0.pconv.weight'].shape[1])
    expected = _expected_shapes(in_channels)
    converted = OrderedDict()
    for key, value in state.items():
        match = _OURS_KEY.match(key)
        if match is None:
            raise PCNetCCheckpointError(
                f'unknown generator key {prefix}{key!r}')
        kind = 'enc' if match.group(1) == 'encoders' else 'dec'
        layer = (kind, int(match.group(2)) + 1)
        field = _OURS_TO_REF_FIELD.get(
            match.group(3), match.group(3).replace('norm.', 'bn.', 1))
        if layer not in expected or field not in expected[layer]:
            raise PCNetCCheckpointError(
                f'unknown generator key {prefix}{key!r}')
        _check_shape(prefix + key, value, expected[layer][field])
        converted[f'{module_prefix}{kind}_{layer[1]}.{field}'] = value
    missing = [
        f'{kind}_{level}.{field}' for (kind, level), fields in
        expected.items() for field in fields
        if f'{module_prefix}{kind}_{level}.{field}' not in converted
    ]
    if missing:
        raise PCNetCCheckpointError(
            f'missing {len(missing)} generator key(s): {missing[:10]}')
    return converted


def expand_inpainting_checkpoint(state_dict: Mapping[str, Tensor],
                                 extra_channels: int = 1
                                 ) -> 'OrderedDict[str, Tensor]':
    """Add zero input channels to a partial-conv inpainting generator.

    METHOD 3.1: PCNet-C starts from a public partial-conv inpainting model
    (3 input channels) with one zero-initialised extra input channel
    appended to the first encoder layer and the last decoder layer, in both
    the learned conv and the frozen mask conv. Because the mask-conv
    channel is zero too, ``sum(M)`` ignores it and the expanded network
    computes exactly what the original did, whatever the extra channel
    holds.

    Args:
        state_dict (Mapping[str, Tensor]): Reference-layout state dict of
            the inpainting model (``enc_k.conv.input_conv.weight`` ...,
            with or without ``module.``; a checkpoint with a ``state_dict``
            / ``model`` entry is unwrapped).
        extra_channels (int): Channels to append. Defaults to 1.

    Returns:
        OrderedDict[str, Tensor]: The same keys (same prefix) with
        ``enc_1`` weights ``(64, C, 7, 7) -> (64, C + n, 7, 7)`` and
        ``dec_1`` weights ``(3, 64 + C, 3, 3) -> (3, 64 + C + n, 3, 3)``
        (the raw input is the last part of dec_1's input). Feed it to
        :func:`reference_to_mmdeocc_pcnet_c`.

    Raises:
        PCNetCCheckpointError: The input is not a complete, well-shaped
            generator state dict.
    """
    if extra_channels < 1:
        raise ValueError('expand_inpainting_checkpoint: extra_channels must '
                         f'be >= 1, got {extra_channels}')
    state = _unwrap(state_dict)
    keys = list(state)
    module = 'module.' if keys and all(
        key.startswith('module.') for key in keys) else ''
    # Validates keys and shapes of the input model.
    reference_to_mmdeocc_pcnet_c(state, prefix='')
    expanded = OrderedDict()
    for key, value in state.items():
        bare = key[len(module):]
        if bare in ('enc_1.conv.input_conv.weight',
                    'enc_1.conv.mask_conv.weight',
                    'dec_1.conv.input_conv.weight',
                    'dec_1.conv.mask_conv.weight'):
            zeros = value.new_zeros(value.shape[0], extra_channels,
                                    *value.shape[2:])
            value = torch.cat([value, zeros], dim=1)
        expanded[key] = value
    return expanded
