"""Make a PCNet-C initialisation from a partial-conv inpainting checkpoint.

METHOD 3.1: the reference PCNet-C starts from a public partial-convolution
inpainting model (3 input channels, 7 levels; keys ``enc_k.conv.
input_conv.weight``, ``enc_k.conv.mask_conv.weight``, ``enc_k.bn.*``,
``dec_k...``, with or without ``module.``, bare or under ``model`` /
``state_dict``). This tool appends one zero-initialised input channel (the
modal mask) to the first encoder and the last decoder layers, in both the
learned convolution and the frozen mask convolution, maps the keys onto
:class:`mmdeocc.models.PCNetC` (``generator.*``) and saves an mmdeocc
checkpoint (atomically; loaded weights-only). Because the new mask-kernel
channel is zero, the expanded network computes exactly what the inpainting
model computed until training changes it.

Use it as the start of training::

    python tools/expand_inpainting_ckpt.py pconv_inpainting.pth \\
        checkpoints/pcnet_c_init_from_inpainting.pth
    python tools/train.py configs/pcnet_c_kins.py \\
        --cfg-options load_from=checkpoints/pcnet_c_init_from_inpainting.pth

(``configs/pcnet_c_kins.py`` / ``pcnet_c_cocoa.py`` use that path by
default.) The discriminator is not in the output; it starts from its own
initialisation, as in the reference.
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import List, Optional

# Make the repository importable when run as `python tools/...` from a clone.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Expand a 3-channel partial-conv inpainting checkpoint '
        'with a zero modal channel into a PCNet-C initialisation')
    parser.add_argument('src', help='inpainting checkpoint (IN)')
    parser.add_argument('dst', help='output mmdeocc checkpoint (OUT)')
    parser.add_argument(
        '--use-category', action='store_true',
        help='write use_category=True in the stored model config (the '
        'modal channel is multiplied by the dataset category id, as for '
        'KINS); training configs set this themselves')
    return parser.parse_args(argv)


def expand(src: str, dst: str, use_category: bool = False) -> dict:
    """Expand ``src`` and save it to ``dst``.

    Args:
        src (str): Inpainting checkpoint.
        dst (str): Output path.
        use_category (bool): Stored in the model config of ``meta['cfg']``.

    Returns:
        dict: The saved checkpoint.

    Raises:
        FileNotFoundError: Missing ``src``.
        ValueError: Not a 3-channel partial-conv generator (names the
            offending key or shape).
    """
    from mmdeocc.models import (expand_inpainting_checkpoint,
                                reference_to_mmdeocc_pcnet_c)
    from mmdeocc.models.checkpoint_io import (config_text_for_model,
                                              read_checkpoint,
                                              save_checkpoint_atomic)
    state = read_checkpoint(src)
    for wrapper in ('state_dict', 'model'):
        if isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    ours = state.get('generator.encoders.0.pconv.weight')
    if ours is not None:
        raise ValueError(
            f'{src} is already an mmdeocc PCNet-C checkpoint ({ours.shape[1]}'
            ' input channels); expected a 3-channel inpainting model in the '
            'reference layout')
    first = 'enc_1.conv.input_conv.weight'
    key = next((k for k in state
                if isinstance(k, str) and k in (first, 'module.' + first)),
               None)
    if key is None:
        raise ValueError(
            f'{src}: no {first}: not a partial-conv inpainting generator '
            f'(first keys: {sorted(map(str, state))[:5]})')
    channels = int(state[key].shape[1])
    if channels != 3:
        raise ValueError(
            f'{src}: expected a 3-channel inpainting model (RGB), but '
            f'enc_1 has {channels} input channels; it is already expanded '
            'or not an inpainting model. Expected 3 input channels.')
    converted = reference_to_mmdeocc_pcnet_c(
        expand_inpainting_checkpoint(state, extra_channels=1),
        prefix='generator.')
    model_cfg = dict(
        type='PCNetC',
        generator=dict(type='PCNetCGenerator', window_rescale=False),
        use_category=use_category)
    checkpoint = dict(
        state_dict=dict(converted),
        meta=dict(cfg=config_text_for_model(model_cfg), expanded_from=src))
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
        print('error: IN and OUT must be different files', file=sys.stderr)
        return 2
    try:
        checkpoint = expand(args.src, args.dst, args.use_category)
    except (FileNotFoundError, ValueError, pickle.UnpicklingError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'expanded {args.src} -> {args.dst} '
          f"({len(checkpoint['state_dict'])} generator tensors, 4 input "
          'channels)')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
