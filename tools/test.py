"""Test an MMDetection model, optionally with scene de-occlusion attached.

MMDetection's test tool (a Runner built from the config, ``runner.test()``;
the same arguments: ``--work-dir``, ``--out``, ``--show``, ``--show-dir``,
``--wait-time``, ``--cfg-options``, ``--launcher``, ``--tta``) for configs
whose detector is de-occluded by a :class:`~mmdeocc.engine.DeOcclusionHook`
in ``custom_hooks`` or wrapped in a :class:`~mmdeocc.engine.
DeOcclusionDetector`; plain detector configs work as in mmdet. With
de-occlusion attached:

- the test evaluators (``AmodalMaskMetric``, ``OcclusionOrderMetric``,
  mmdet's ``CocoMetric``, ...) and dumps see ``pred_instances.
  amodal_masks`` and ``pred_occlusion_order``;
- ``--out FILE.pkl`` dumps every prediction with ``DumpDeOcclusionResults``
  (mmdet's ``DumpDetResults`` fields plus the amodal masks as RLE and the
  order matrix);
- ``--show-dir DIR`` draws the de-occlusion pictures (amodal masks,
  invisible parts hatched, the order graph) through
  :class:`~mmdeocc.visualization.DeOcclusionVisualizer`;
- ``--pcnet-m CKPT`` adds a ``DeOcclusionHook`` to a plain detector config
  (or sets the checkpoint of the config's hook), ``--score-thr`` sets its
  score threshold.

The paper-table benchmark (ground-truth modal masks, every method in one
table) is ``tools/analysis_tools/eval_deocclusion.py``.

Examples::

    # the committed tiny detector on generated scenes (README, "Detect then
    # de-occlude" makes data/scenes/tiny_det_val first)
    python tools/test.py \\
        configs/deocclusion/mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py \\
        checkpoints/mask-rcnn_r18_tiny_scenes.pth --out work_dirs/deocc.pkl \\
        --show-dir vis
    # two CPU processes (gloo) or 8 GPUs
    bash tools/dist_test.sh CONFIG CHECKPOINT 2 --out results.pkl
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from typing import Any, List, Optional

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.utils.cli import run_tool  # noqa: E402
from mmdeocc.utils.distributed import finish_job_distributed  # noqa: E402

#: The visualizer drawing amodal masks, invisible parts and the order graph.
DEOCCLUSION_VISUALIZER = 'DeOcclusionVisualizer'
#: mmdet's default test-time augmentation (horizontal flip, merged by NMS).
DEFAULT_TTA_MODEL = dict(
    type='DetTTAModel',
    tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))


class TestConfigError(ValueError):
    """The config cannot be tested by this tool (the message says why)."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='MMDetection test (and eval) a model; with a '
        'DeOcclusionHook or DeOcclusionDetector in the config, metrics, '
        'dumps and pictures see the amodal masks and occlusion order')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out', metavar='FILE.pkl',
        help='dump predictions to a pickle file (DumpDeOcclusionResults: '
        'with amodal masks and the order when de-occlusion is attached)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved (under the '
        'timestamped work_dir, like mmdet)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--pcnet-m', metavar='CKPT',
        help='PCNet-M checkpoint: adds a DeOcclusionHook (or sets the '
        "config's)")
    parser.add_argument(
        '--score-thr', type=float, default=None,
        help='score threshold of the DeOcclusionHook')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation (horizontal flip)')
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
            if score_thr is not None:
                raise TestConfigError(
                    '--score-thr sets the DeOcclusionHook\'s threshold, but '
                    'the config has no hook; add --pcnet-m CKPT')
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


def deocclusion_attached(cfg: Config) -> bool:
    """Whether the config de-occludes its detector (hook or wrapper)."""
    hooks = cfg.get('custom_hooks', None) or []
    if any(h.get('type') == 'DeOcclusionHook' for h in hooks):
        return True
    model = cfg.get('model', None) or {}
    return model.get('type') == 'DeOcclusionDetector'


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


def _trigger_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Turn on the visualization hook for ``--show`` / ``--show-dir``; with
    de-occlusion attached, draw through the DeOcclusionVisualizer."""
    hooks = cfg.get('default_hooks', None) or {}
    if 'visualization' not in hooks:
        raise TestConfigError(
            '--show / --show-dir need a "visualization" hook in the config\'s '
            "default_hooks, e.g. visualization=dict(type="
            "'DetVisualizationHook')")
    hook = hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir
    if deocclusion_attached(cfg):
        visualizer = dict(cfg.get('visualizer', None)
                          or dict(name='visualizer'))
        if visualizer.get('type') in (None, 'DetLocalVisualizer',
                                      'mmdet.DetLocalVisualizer'):
            visualizer['type'] = DEOCCLUSION_VISUALIZER
        cfg.visualizer = visualizer


def _apply_tta(cfg: Config) -> None:
    """Wrap the model in mmdet's TTA model with a flip pipeline."""
    if 'tta_model' not in cfg:
        warnings.warn('no tta_model in the config: using mmdet\'s default '
                      '(flip, NMS 0.5, 100 per image)')
        cfg.tta_model = ConfigDict(DEFAULT_TTA_MODEL)
    if 'tta_pipeline' not in cfg:
        pipeline = list(cfg.test_dataloader.dataset.pipeline)
        loaders = [t for t in pipeline if 'LoadImage' in str(t['type'])]
        packers = [t for t in pipeline if 'PackDetInputs' in str(t['type'])]
        if not loaders or not packers:
            raise TestConfigError(
                '--tta needs a tta_pipeline in the config, or a test '
                'pipeline with an image loader and PackDetInputs')
        flips = [[dict(type='RandomFlip', prob=1.0),
                  dict(type='RandomFlip', prob=0.0)],
                 [dict(type='PackDetInputs',
                       meta_keys=packers[-1].get(
                           'meta_keys',
                           ('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction')))]]
        middle = [t for t in pipeline
                  if t is not loaders[0] and t is not packers[-1]]
        cfg.tta_pipeline = [loaders[0]] + middle + [
            dict(type='TestTimeAug', transforms=flips)]
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def _check_is_test_config(cfg: Config, path: str) -> None:
    """Refuse configs this tool cannot run, saying which tool can."""
    if 'deocc_eval' in cfg or 'model' not in cfg:
        raise TestConfigError(
            f'{path} is a de-occlusion evaluation config (no detector '
            'model): run it with tools/analysis_tools/eval_deocclusion.py '
            f'{path} CHECKPOINT')
    for key in ('test_dataloader', 'test_evaluator', 'test_cfg'):
        if key not in cfg:
            raise TestConfigError(
                f'{path} has no {key}: it is not a test config')


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
    _check_is_test_config(cfg, args.config)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    _add_hook(cfg, args.pcnet_m, args.score_thr)
    if args.show or args.show_dir:
        _trigger_visualization(cfg, args)
    if args.tta:
        _apply_tta(cfg)
    if args.out is not None:
        _add_dump(cfg, args.out)
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Start a gloo process group for CPU processes (no GPU).

    mmengine's pytorch launcher pins each process to ``cuda:LOCAL_RANK``
    and wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, both of
    which fail without GPUs. Here the group is started directly (the Runner
    then skips its own start) and the DDP wrapper gets ``device_ids=None``.

    Args:
        cfg (Config): The test config (``model_wrapper_cfg`` is set unless
            the config has one).
    """
    import torch
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    if cfg.get('model_wrapper_cfg', None) is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None)


def main(argv: Optional[List[str]] = None) -> Any:
    """Build a Runner from the config and test.

    Args:
        argv (list[str], optional): Command-line arguments.

    Returns:
        dict: The metrics.
    """
    args = parse_args(argv)
    cfg = build_config(args)
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    finish_job_distributed(cfg.launcher)
    return metrics


if __name__ == '__main__':
    sys.exit(run_tool(main))
