"""Test an MMDetection instance segmenter with scene de-occlusion attached.

Like MMDetection's ``tools/test.py`` (a Runner built from the config, then
``runner.test()``), plus:

- ``--pcnet-m CKPT`` adds a :class:`~mmdeocc.engine.DeOcclusionHook` to
  ``custom_hooks`` (or sets the checkpoint of the one the config has), so
  the test evaluators see ``pred_instances.amodal_masks`` and
  ``pred_occlusion_order``;
- ``--out FILE.pkl`` appends a ``DumpDeOcclusionResults`` evaluator (order
  matrices and RLE amodal masks per image).

Examples::

    python tools/test_detector.py \\
        configs/deocclusion/mask-rcnn_r18_tiny_scenes_deocclusion.py \\
        work_dirs/mask-rcnn_r18_tiny_scenes/iter_300.pth \\
        --pcnet-m checkpoints/pcnet_m_coco128.pth --out results.pkl
    bash tools/dist_test.sh CONFIG CHECKPOINT 8 --pcnet-m CKPT  # 8 GPUs
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Test an MMDetection instance segmenter with scene '
        'de-occlusion (DeOcclusionHook)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='detector checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the dir for logs and metrics (default: ./work_dirs/<config>)')
    parser.add_argument(
        '--pcnet-m', metavar='CKPT',
        help='PCNet-M checkpoint: adds a DeOcclusionHook (or sets the '
        "config's)")
    parser.add_argument(
        '--score-thr', type=float, default=None,
        help='score threshold of the DeOcclusionHook')
    parser.add_argument(
        '--out', metavar='FILE.pkl',
        help='dump the de-occlusion predictions (DumpDeOcclusionResults)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must end with .pkl or .pickle')
    return args


def _add_hook(cfg: Config, pcnet_m: Optional[str],
              score_thr: Optional[float]) -> None:
    """Add or update the DeOcclusionHook of ``cfg.custom_hooks``."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    ours = [h for h in hooks if h.get('type') == 'DeOcclusionHook']
    if not ours:
        if pcnet_m is None:
            return
        hook = ConfigDict(type='DeOcclusionHook')
        hooks.append(hook)
        ours = [hook]
    for hook in ours:
        if pcnet_m is not None:
            hook.pop('checkpoint', None)
            hook['pcnet_m'] = pcnet_m
        if score_thr is not None:
            hook['score_thr'] = score_thr
    cfg.custom_hooks = hooks


def _add_dump(cfg: Config, out: str) -> None:
    """Append a DumpDeOcclusionResults evaluator."""
    evaluator = cfg.test_evaluator
    dump = dict(type='DumpDeOcclusionResults', out_file_path=out)
    if isinstance(evaluator, (list, tuple)):
        cfg.test_evaluator = list(evaluator) + [dump]
    elif isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        metrics = list(metrics) if isinstance(metrics,
                                              (list, tuple)) else [metrics]
        evaluator['metrics'] = metrics + [dump]
    else:
        cfg.test_evaluator = [evaluator, dump]


def build_config(args: argparse.Namespace) -> Config:
    """The test config with the command-line changes applied.

    Args:
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The config to build the Runner from.
    """
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file {path} does not exist')
    if args.pcnet_m is not None and not osp.isfile(args.pcnet_m):
        raise FileNotFoundError(f'PCNet-M checkpoint {args.pcnet_m} does '
                                'not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    _add_hook(cfg, args.pcnet_m, args.score_thr)
    if args.out is not None:
        _add_dump(cfg, args.out)
    return cfg


def main(argv: Optional[List[str]] = None) -> dict:
    """Build a Runner from the config and test.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        dict: The metrics.
    """
    args = parse_args(argv)
    cfg = build_config(args)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    return runner.test()


if __name__ == '__main__':
    sys.exit(run_tool(main))
