"""Key mapping between the reference PCNet-M checkpoints and mmdeocc.

The released reference files (METHOD 6) store the UNet under a ``module.``
prefix with these names (``0``/``1``/``3``/``4`` are conv, BN, conv, BN of a
double conv; ``2``/``5`` are the parameter-free ReLUs)::

    inc.conv.conv.{0,1,3,4}.*            -> in_conv.{conv1,norm1,conv2,norm2}.*
    down{k}.mpconv.1.conv.{0,1,3,4}.*    -> down_stages.{k-1}.convs.<same>.*
    up{k}.conv.conv.{0,1,3,4}.*          -> up_stages.{k-1}.convs.<same>.*
    outc.conv.{weight,bias}              -> head.{weight,bias}

``up1`` is the deepest decoder stage (bottleneck + 4th skip), as our
``up_stages.0``. The mapping is explicit and total: every reference key has
exactly one counterpart; any unknown, missing or mis-shaped entry raises
:class:`CheckpointConversionError` naming the keys.
"""
from collections import OrderedDict
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .unet import BASE_CHANNELS, UNet, unet_channels

#: Prefix of every key in the reference checkpoints (DataParallel wrapper).
REFERENCE_MODULE_PREFIX = 'module.'
#: Prefix of the UNet inside :class:`mmdeocc.models.PCNetM`.
PCNET_M_PREFIX = 'unet.'

_CONV_FIELDS = ('weight', 'bias')
_NORM_FIELDS = ('weight', 'bias', 'running_mean', 'running_var',
                'num_batches_tracked')
# (index in the reference's Sequential, our attribute name, its fields)
_DOUBLE_CONV_LAYERS = (
    ('0', 'conv1', _CONV_FIELDS),
    ('1', 'norm1', _NORM_FIELDS),
    ('3', 'conv2', _CONV_FIELDS),
    ('4', 'norm2', _NORM_FIELDS),
)
_NUM_STAGES = 4
_MAX_NAMED_KEYS = 12


class CheckpointConversionError(ValueError):
    """A state dict does not match the layout a converter expects."""


@lru_cache(maxsize=1)
def pcnet_m_key_pairs() -> Tuple[Tuple[str, str], ...]:
    """The one-to-one key mapping of PCNet-M.

    Returns:
        tuple[tuple[str, str]]: ``(reference key without 'module.', UNet
        key)`` pairs, 128 of them, in network order.
    """
    blocks = [('inc.conv.conv', 'in_conv')]
    blocks += [(f'down{k}.mpconv.1.conv', f'down_stages.{k - 1}.convs')
               for k in range(1, _NUM_STAGES + 1)]
    blocks += [(f'up{k}.conv.conv', f'up_stages.{k - 1}.convs')
               for k in range(1, _NUM_STAGES + 1)]
    pairs = []
    for ref_block, our_block in blocks:
        for index, name, fields in _DOUBLE_CONV_LAYERS:
            for field in fields:
                pairs.append((f'{ref_block}.{index}.{field}',
                              f'{our_block}.{name}.{field}'))
    pairs += [('outc.conv.weight', 'head.weight'),
              ('outc.conv.bias', 'head.bias')]
    return tuple(pairs)


@lru_cache(maxsize=8)
def _unet_shapes(width: float) -> Dict[str, Tuple[int, ...]]:
    """State-dict shapes of ``UNet(width)`` (built on the meta device)."""
    with torch.device('meta'):
        net = UNet(width=width)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _name_keys(keys) -> str:
    """Comma-separated sorted keys, shortened after a dozen."""
    keys = sorted(keys)
    shown = ', '.join(repr(k) for k in keys[:_MAX_NAMED_KEYS])
    if len(keys) > _MAX_NAMED_KEYS:
        shown += f', ... ({len(keys)} in all)'
    return shown


def _check_width(in_conv_shape: Tuple[int, ...], width: Optional[float],
                 what: str) -> float:
    """Infer the width from the in-conv weight and check it against
    ``width``.

    Args:
        in_conv_shape (tuple[int]): Shape of the first conv weight.
        width (float, optional): Expected width, or None to infer it.
        what (str): Description of the state dict for messages.

    Returns:
        float: The width to build the expected shapes with.
    """
    first = in_conv_shape[0]
    inferred = first / BASE_CHANNELS[0]
    if inferred == int(inferred):
        inferred = int(inferred)
    if width is None:
        return inferred
    expected_first = unet_channels(width)[0]
    if expected_first != first:
        raise CheckpointConversionError(
            f'PCNet-M width mismatch in {what}: its first conv has {first} '
            f'output channels (width {inferred:g}), but width {width:g} '
            f'expects {expected_first}.')
    return width


def _check_shapes(state_dict: Mapping[str, torch.Tensor],
                  expected: Dict[str, Tuple[int, ...]], width: float,
                  what: str, to_expected_key=None) -> None:
    """Raise if a tensor's shape differs from ``UNet(width)``'s."""
    bad = []
    for key, value in state_dict.items():
        our_key = to_expected_key(key) if to_expected_key else key
        if tuple(value.shape) != expected[our_key]:
            bad.append(f'{key}: got {tuple(value.shape)}, expected '
                       f'{expected[our_key]}')
    if bad:
        shown = '; '.join(bad[:_MAX_NAMED_KEYS])
        more = f' ... ({len(bad)} in all)' if len(bad) > _MAX_NAMED_KEYS \
            else ''
        raise CheckpointConversionError(
            f'Shape mismatch in {what} for a PCNet-M UNet of width '
            f'{width:g}: '
            f'{shown}{more}')


def _check_tensors(state_dict: Mapping, what: str) -> None:
    """Raise unless ``state_dict`` is a mapping of str to tensors."""
    if not isinstance(state_dict, Mapping):
        raise CheckpointConversionError(
            f'{what} must be a dict of tensors, got '
            f'{type(state_dict).__name__}')
    bad = [str(k) for k, v in state_dict.items()
           if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointConversionError(
            f'{what} has entries that are not tensors: {_name_keys(bad)}')


def _strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str,
                  what: str,
                  required: bool) -> 'OrderedDict[str, torch.Tensor]':
    """Remove ``prefix`` from every key (all keys or, unless ``required``,
    none may carry it)."""
    if not prefix:
        return OrderedDict(state_dict)
    with_prefix = [k for k in state_dict if k.startswith(prefix)]
    if len(with_prefix) == len(state_dict):
        return OrderedDict(
            (k[len(prefix):], v) for k, v in state_dict.items())
    if not with_prefix and not required:
        return OrderedDict(state_dict)
    without = [k for k in state_dict if not k.startswith(prefix)]
    raise CheckpointConversionError(
        f'{what}: expected every key to start with {prefix!r}, but these do '
        f'not: {_name_keys(without)}')


def key_set_difference(got, expected) -> str:
    """Name the unexpected and the missing keys of a state dict.

    Args:
        got (Iterable[str]): Keys present.
        expected (Iterable[str]): Keys wanted.

    Returns:
        str: ``'unexpected keys: ...; missing keys: ...'`` (the parts that
        apply), empty when the sets are equal.
    """
    got, expected = set(got), set(expected)
    parts = []
    if got - expected:
        parts.append(f'unexpected keys: {_name_keys(got - expected)}')
    if expected - got:
        parts.append(f'missing keys: {_name_keys(expected - got)}')
    return '; '.join(parts)


def _check_key_sets(got, expected, what: str, hint: str = '') -> None:
    """Raise naming the unexpected and the missing keys, if any."""
    difference = key_set_difference(got, expected)
    if difference:
        raise CheckpointConversionError(
            f'{what} is not a PCNet-M state dict in the expected layout; '
            + difference + hint)


def reference_to_mmdeocc_pcnet_m(
        state_dict: Mapping[str, torch.Tensor],
        width: Optional[float] = None,
        prefix: str = PCNET_M_PREFIX) -> 'OrderedDict[str, torch.Tensor]':
    """Convert a reference PCNet-M state dict to mmdeocc's layout.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The reference checkpoint's
            ``state_dict``; keys with the ``module.`` prefix (as released)
            or without it.
        width (float, optional): Expected UNet width; None infers it from the
            first conv (2 for every released file).
        prefix (str): Prefix of the output keys: ``'unet.'`` (default) for a
            :class:`~mmdeocc.models.PCNetM`, ``''`` for a bare
            :class:`~mmdeocc.models.UNet`.

    Returns:
        OrderedDict[str, torch.Tensor]: The state dict in mmdeocc's layout,
        loadable with ``strict=True``. Tensors are shared, not copied.

    Raises:
        CheckpointConversionError: If a key is unknown or missing, a value is
            not a tensor, or a shape does not fit the (given or inferred)
            width.
    """
    what = 'reference PCNet-M state dict'
    _check_tensors(state_dict, what)
    plain = _strip_prefix(state_dict, REFERENCE_MODULE_PREFIX, what,
                          required=False)
    pairs = dict(pcnet_m_key_pairs())
    hint = ''
    if any(k.startswith(PCNET_M_PREFIX) for k in plain):
        hint = ' (it looks like an mmdeocc state dict already)'
    elif any(k.startswith('enc_') or k.startswith('dec_') for k in plain):
        hint = ' (it looks like a PCNet-C state dict)'
    _check_key_sets(plain, pairs, what, hint)
    width = _check_width(tuple(plain['inc.conv.conv.0.weight'].shape), width,
                         what)
    _check_shapes(plain, _unet_shapes(width), width, what, pairs.__getitem__)
    return OrderedDict(
        (prefix + pairs[ref_key], plain[ref_key]) for ref_key, _ in
        pcnet_m_key_pairs())


def mmdeocc_to_reference_pcnet_m(
        state_dict: Mapping[str, torch.Tensor],
        width: Optional[float] = None,
        prefix: str = PCNET_M_PREFIX,
        module_prefix: str = REFERENCE_MODULE_PREFIX
) -> 'OrderedDict[str, torch.Tensor]':
    """Convert an mmdeocc PCNet-M state dict to the reference layout.

    The inverse of :func:`reference_to_mmdeocc_pcnet_m`.

    Args:
        state_dict (Mapping[str, torch.Tensor]): A :class:`PCNetM` (keys
            ``unet.*``) or, with ``prefix=''``, a :class:`UNet` state dict.
        width (float, optional): Expected UNet width; None infers it.
        prefix (str): Prefix of the input keys. Defaults to ``'unet.'``.
        module_prefix (str): Prefix of the output keys. Defaults to
            ``'module.'`` as in the released files.

    Returns:
        OrderedDict[str, torch.Tensor]: The reference-layout state dict.

    Raises:
        CheckpointConversionError: If a key is unknown or missing, a value is
            not a tensor, or a shape does not fit the width.
    """
    what = 'mmdeocc PCNet-M state dict'
    _check_tensors(state_dict, what)
    plain = _strip_prefix(state_dict, prefix, what, required=True)
    inverse = {ours: ref for ref, ours in pcnet_m_key_pairs()}
    _check_key_sets(plain, inverse, what)
    width = _check_width(tuple(plain['in_conv.conv1.weight'].shape), width,
                         what)
    _check_shapes(plain, _unet_shapes(width), width, what)
    return OrderedDict((module_prefix + ref, plain[ours])
                       for ref, ours in pcnet_m_key_pairs())


def detect_reference_kind(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Tell a reference PCNet-M from a reference PCNet-C state dict.

    Args:
        state_dict (Mapping[str, torch.Tensor]): A reference state dict.

    Returns:
        str: ``'pcnet_m'`` or ``'pcnet_c'``.

    Raises:
        CheckpointConversionError: If it looks like neither.
    """
    keys: List[str] = [
        k[len(REFERENCE_MODULE_PREFIX):]
        if k.startswith(REFERENCE_MODULE_PREFIX) else k for k in state_dict
    ]
    if 'inc.conv.conv.0.weight' in keys:
        return 'pcnet_m'
    if 'enc_1.conv.input_conv.weight' in keys:
        return 'pcnet_c'
    raise CheckpointConversionError(
        'Cannot tell the kind of this reference state dict: it has neither '
        "'module.inc.conv.conv.0.weight' (PCNet-M) nor "
        "'module.enc_1.conv.input_conv.weight' (PCNet-C); first keys: "
        f'{_name_keys(list(state_dict)[:5])}')
