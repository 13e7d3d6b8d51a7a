"""Train a model (PCNet-M, PCNet-C, or an MMDetection model) from a config.

Examples::

    python tools/train.py configs/pcnet_m_coco128_cpu.py
    python tools/train.py configs/pcnet_m_kins.py --work-dir work_dirs/k --amp
    python tools/train.py configs/pcnet_m_kins.py --resume          # latest
    bash tools/dist_train.sh configs/pcnet_m_kins.py 8              # 8 GPUs

Configs with ``effective_batch_size`` (the reference PCNet-M recipes: 256
samples per update) get gradient accumulation chosen from the number of
processes, with the schedule counted in updates
(:mod:`mmdeocc.engine.effective_batch`); the log says what runs.
"""
import argparse
import logging
import os
import os.path as osp
import sys

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # docs/benchmarks.md

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdeocc.engine.cpu_amp import training_precision  # noqa: E402
from mmdeocc.engine.effective_batch import EffectiveBatchError  # noqa: E402
from mmdeocc.engine.effective_batch import (apply_effective_batch,
                                            world_size_from_env)
from mmdeocc.engine.preflight import check_training_files  # noqa: E402
from mmdeocc.utils.cli import run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Train a de-occlusion (or detection) model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir', help='the dir to save logs and checkpoints '
        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 AMP on CUDA, bf16 autocast on CPUs with '
        'native bf16 (AVX512-BF16 / AMX), ignored on other CPUs')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint; without a path, resume from '
        'the latest checkpoint in the work dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_iters=100')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher (tools/dist_train.sh sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line overrides.

    Args:
        args (argparse.Namespace): Parsed arguments of :func:`parse_args`.

    Returns:
        Config: The config to build the Runner from.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        enable_amp(cfg)
    try:
        apply_effective_batch(cfg, world_size_from_env(args.launcher))
    except EffectiveBatchError as err:
        raise SystemExit(f'train.py: error: {args.config}: {err}') from None
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def enable_amp(cfg: Config) -> None:
    """Switch the config's optimiser wrapper to mixed precision, in place.

    CUDA: mmengine's ``AmpOptimWrapper`` (fp16, dynamic loss scale). CPU
    with native bf16 (AVX512-BF16 / AMX): bf16 autocast
    (``CPUBF16OptimWrapper``). CPU without: stays fp32, with a warning
    (emulated bf16 is many times slower; docs/benchmarks.md).

    Args:
        cfg (Config): The training config.
    """
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper in ('AmpOptimWrapper', 'CPUBF16OptimWrapper'):
        print_log('AMP training is already enabled in the config.',
                  logger='current', level=logging.WARNING)
        return
    precision = training_precision(torch.cuda.is_available())
    if precision == 'cuda_amp':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    elif precision == 'cpu_bf16':
        cfg.optim_wrapper.type = 'CPUBF16OptimWrapper'
        print_log('--amp: bf16 autocast on this CPU (native bf16)',
                  logger='current')
    else:
        print_log('--amp ignored: this CPU has no native bf16 (emulated '
                  'bf16 is slower than fp32); training in fp32',
                  logger='current', level=logging.WARNING)


def main(argv=None) -> None:
    """Build a Runner from the config and train."""
    args = parse_args(argv)
    cfg = build_config(args)
    check_training_files(cfg, args.config)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    if cfg.get('effective_batch'):
        runner.logger.info(cfg.effective_batch['summary'])
    runner.train()


if __name__ == '__main__':
    sys.exit(run_tool(main))
