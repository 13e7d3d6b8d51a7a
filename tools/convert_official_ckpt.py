"""Convert a released reference checkpoint to an mmdeocc checkpoint.

The reference files (``COCOA_pcnet_m.pth.tar``, ``KINS_pcnet_m.pth.tar``,
...) hold ``{'step', 'state_dict', 'optimizer'}`` with ``module.``-prefixed
keys. The output holds ``{'state_dict', 'meta': {'cfg', 'converted_from',
'step'}}``: ``meta['cfg']`` is config text with the ``model`` dict, so that
``mmdeocc.models.load_pcnet_m(OUT)`` (or the Runner's ``load_from``) works.

Example::

    python tools/convert_official_ckpt.py KINS_pcnet_m.pth.tar \
        checkpoints/pcnet_m_kins_official.pth --kind pcnet_m --use-category
"""
import argparse
import importlib
import os.path as osp
import pickle
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from mmdeocc.models.checkpoint_io import (config_text_for_model,
                                          read_checkpoint,
                                          save_checkpoint_atomic)
from mmdeocc.models.converters import (CheckpointConversionError,
                                       detect_reference_kind)
from mmdeocc.utils.cli import run_tool

#: kind -> (module, converter function, model type written to meta['cfg']).
#: The converter takes the reference state dict (``module.`` keys) and
#: returns the mmdeocc state dict. PCNet-C plugs in by its module existing.
CONVERTERS: Dict[str, Tuple[str, str, str]] = {
    'pcnet_m': ('mmdeocc.models.converters', 'reference_to_mmdeocc_pcnet_m',
                'PCNetM'),
    'pcnet_c': ('mmdeocc.models.pcnet_c_convert',
                'reference_to_mmdeocc_pcnet_c', 'PCNetC'),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Convert a released de-occlusion reference checkpoint '
        '(PCNet-M / PCNet-C) to an mmdeocc checkpoint')
    parser.add_argument('src', help='reference checkpoint (.pth.tar)')
    parser.add_argument('dst', help='output mmdeocc checkpoint (.pth)')
    parser.add_argument(
        '--kind',
        choices=['auto'] + sorted(CONVERTERS),
        default='auto',
        help='model kind; auto detects it from the state-dict keys')
    parser.add_argument(
        '--width',
        type=float,
        default=2,
        help='PCNet-M UNet width multiplier (2 for every released file)')
    parser.add_argument(
        '--use-category',
        action='store_true',
        help='the model multiplies the modal channel by the raw '
        'dataset category id (the released KINS models; COCOA used a '
        'constant 1, i.e. leave this off)')
    parser.add_argument(
        '--inmask-weight',
        type=float,
        default=5.0,
        help='PCNet-M loss weight inside the eraser written to the config '
        '(only matters when fine-tuning; 6 reproduces the reference code)')
    return parser.parse_args(argv)


def _resolve_converter(kind: str) -> Callable[..., Dict[str, Any]]:
    """Import the converter of ``kind`` lazily.

    Args:
        kind (str): A key of :data:`CONVERTERS`.

    Returns:
        Callable: The converter function.

    Raises:
        NotImplementedError: If the converter's module does not exist yet.
    """
    module_name, func_name, _ = CONVERTERS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise NotImplementedError(
            f'converting {kind} checkpoints needs {module_name}, which is '
            'not available in this mmdeocc installation') from None
    return getattr(module, func_name)


def _model_cfg(kind: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Model config written into the converted checkpoint."""
    model_type = CONVERTERS[kind][2]
    if kind != 'pcnet_m':
        return dict(type=model_type, use_category=args.use_category)
    width = int(args.width) if args.width == int(args.width) else args.width
    return dict(
        type=model_type,
        width=width,
        use_category=args.use_category,
        category_map=None,
        inmask_weight=args.inmask_weight,
        in_size=256)


def convert(src: str, dst: str, kind: str = 'auto',
            args: Optional[argparse.Namespace] = None) -> Dict[str, Any]:
    """Convert ``src`` and save it atomically to ``dst``.

    Args:
        src (str): Reference checkpoint path.
        dst (str): Output path.
        kind (str): ``'auto'``, ``'pcnet_m'`` or ``'pcnet_c'``.
        args (argparse.Namespace, optional): Model options (width,
            use_category, inmask_weight); defaults of :func:`parse_args`.

    Returns:
        dict: The saved checkpoint.
    """
    if args is None:
        args = parse_args([src, dst])
    reference = read_checkpoint(src)
    state_dict = reference.get('state_dict')
    if not isinstance(state_dict, Mapping):
        raise CheckpointConversionError(
            f"{src} has no 'state_dict' dict (top-level keys: "
            f'{sorted(map(str, reference))})')
    if kind == 'auto':
        kind = detect_reference_kind(state_dict)
    convert_fn = _resolve_converter(kind)
    if kind == 'pcnet_m':
        converted = convert_fn(state_dict, width=args.width)
    else:
        converted = convert_fn(state_dict)
    meta: Dict[str, Any] = dict(
        cfg=config_text_for_model(_model_cfg(kind, args)),
        converted_from=src)
    step = reference.get('step')
    if step is not None:
        meta['step'] = int(step)
    checkpoint = dict(state_dict=dict(converted), meta=meta)
    save_checkpoint_atomic(checkpoint, dst)
    return checkpoint


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.

    Returns:
        int: Exit status (0 on success).
    """
    args = parse_args(argv)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        print('error: src and dst must be different files', file=sys.stderr)
        return 2
    try:
        checkpoint = convert(args.src, args.dst, args.kind, args)
    except (FileNotFoundError, ValueError, NotImplementedError,
            pickle.UnpicklingError) as err:
        # ValueError covers CheckpointConversionError and
        # PCNetMCheckpointError; UnpicklingError an unsafe checkpoint.
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'converted {args.src} -> {args.dst} '
          f"({len(checkpoint['state_dict'])} tensors, step "
          f"{checkpoint['meta'].get('step')})")
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
