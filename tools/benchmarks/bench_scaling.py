"""Scaling study of PCNet-M: accuracy vs training samples and CPU time.

Evaluates every (or every k-th) checkpoint of one or more training work
dirs (``tools/train.py`` outputs: ``iter_*.pth``, the dumped config and
mmengine's ``vis_data/scalars.json``) on a de-occlusion benchmark (default:
the unseen-class occlusion scenes) with the paper's protocol, and prints
one table row per checkpoint: width, crop size, optimiser, training samples
seen (iterations x batch x accumulation), training hours (the logged
seconds per iteration summed, i.e. wall time of the run on its machine),
ordering accuracy on occluded pairs and OG / NOG amodal mIoU; the geometric
baselines (Convex ordering, Convex^R amodal) are evaluated once. Optionally
draws accuracy vs samples and vs core-hours (``--plot``)::

    python tools/benchmarks/bench_scaling.py \\
        work_dirs/pcnet_m_w05_c128_adam_128k_shapes_cpu --every 2 \\
        --json work_dirs/scaling.json --plot docs/scaling.png

Points measured earlier (a ``--json`` report, or ``docs/scaling_runs.json``,
the study's recorded points) join the table and the plot with ``--merge``;
with ``--merge`` alone nothing is evaluated and only the plot is redrawn::

    python tools/benchmarks/bench_scaling.py --merge docs/scaling_runs.json \
        --plot docs/scaling_pcnet_m.png

A run trained with a decaying schedule (cosine) is not equivalent to
shorter runs at its intermediate checkpoints; the table marks the final
checkpoint of each run (``final``) and the ``lr`` at each checkpoint.
"""
import argparse
import glob
import json
import os.path as osp
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdeocc.evaluation import evaluate_from_config  # noqa: E402

BASELINES = ('convex', 'convexr')
NETWORK = ('ours', 'ours_nog')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='PCNet-M scaling study: accuracy vs samples and time')
    parser.add_argument('work_dirs', nargs='*',
                        help='training work dirs with iter_*.pth')
    parser.add_argument('--merge', nargs='+', default=[], metavar='JSON',
                        help='reports of earlier runs (this tool\'s --json '
                        'output) whose rows join the table and the plot')
    parser.add_argument('--config', default='configs/eval/deocc_scenes_'
                        'unseen.py', help='evaluation config')
    parser.add_argument('--every', type=int, default=1,
                        help='evaluate every k-th checkpoint (the last one '
                        'always)')
    parser.add_argument('--max-images', type=int, default=None,
                        help='evaluate on the first images only')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads')
    parser.add_argument('--train-threads', type=int, default=1,
                        help='torch threads the evaluated runs trained with '
                        '(recorded per row; the plot\'s core-hours axis is '
                        'hours x threads)')
    parser.add_argument('--json', default=None, help='write the rows here')
    parser.add_argument('--plot', default=None,
                        help='draw accuracy vs samples / core-hours to '
                        'this PNG')
    args = parser.parse_args(argv)
    if not args.work_dirs and not args.merge:
        parser.error('give training work dirs and/or --merge reports')
    return args


def load_report(path: str) -> Dict[str, Any]:
    """The ``baseline`` and ``rows`` of a saved report.

    Args:
        path (str): A JSON file written by ``--json`` (or in its format).

    Returns:
        dict: ``{'baseline': dict, 'rows': list[dict]}``.

    Raises:
        SystemExit: The file is missing, not JSON, or lacks the fields.
    """
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as err:
        raise SystemExit(f'bench_scaling: error: cannot read report {path}: '
                         f'{err}') from None
    rows = report.get('rows') if isinstance(report, dict) else None
    needed = ('run', 'samples', 'hours', 'order/ours', 'amodal/ours')
    if not isinstance(rows, list) or any(
            not isinstance(r, dict) or any(k not in r for k in needed)
            for r in rows):
        raise SystemExit(f'bench_scaling: error: {path} is not a scaling '
                         f'report: it needs "rows", each with '
                         f'{", ".join(needed)}')
    return dict(baseline=dict(report.get('baseline') or {}), rows=rows)


def _iteration(path: str) -> int:
    match = re.search(r'iter_(\d+)\.pth$', path)
    return int(match.group(1)) if match else -1


def run_config(work_dir: str) -> Config:
    """The training config a work dir was trained with.

    Args:
        work_dir (str): A ``tools/train.py`` work dir.

    Returns:
        Config: The config dumped there by mmengine.

    Raises:
        FileNotFoundError: No dumped config in the work dir.
    """
    dumped = sorted(
        p for p in glob.glob(osp.join(work_dir, '*.py'))
        if not osp.basename(p).startswith('.'))
    if not dumped:
        raise FileNotFoundError(f'{work_dir}: no dumped training config '
                                '(*.py) found')
    return Config.fromfile(dumped[0])


def logged_scalars(work_dir: str) -> Dict[int, Dict[str, float]]:
    """Logged training scalars by iteration (all sessions of a run).

    Args:
        work_dir (str): A ``tools/train.py`` work dir.

    Returns:
        dict[int, dict]: ``iter -> {'time': s/iter, 'lr': ..., ...}``; a
        resumed run's later log wins for repeated iterations.
    """
    rows: Dict[int, Dict[str, float]] = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    row = json.loads(line)
                    if 'iter' in row and 'time' in row:
                        rows[int(row['iter'])] = row
    return rows


def hours_until(scalars: Dict[int, Dict[str, float]], iteration: int) -> float:
    """Training hours up to ``iteration`` from the logged s/iteration.

    Args:
        scalars (dict): :func:`logged_scalars`.
        iteration (int): The checkpoint's iteration.

    Returns:
        float: Hours (each logged interval's mean time x its length).
    """
    total, previous = 0.0, 0
    for it in sorted(scalars):
        if it > iteration:
            break
        total += scalars[it]['time'] * (it - previous)
        previous = it
    return total / 3600.0


def run_summary(cfg: Config) -> Dict[str, Any]:
    """Width, crop size, optimiser and samples per iteration of a config."""
    model = cfg.get('model', {})
    loader = cfg.get('train_dataloader', {})
    optim = cfg.get('optim_wrapper', {})
    accumulate = int(optim.get('accumulative_counts', 1) or 1)
    wrapper = str(optim.get('type', 'OptimWrapper'))
    precision = ('bf16' if 'BF16' in wrapper else
                 'amp' if 'Amp' in wrapper else 'fp32')
    return dict(
        precision=precision,
        width=float(model.get('width', 2)),
        crop=int(model.get('in_size', cfg.get('crop_size', 256))),
        optimiser=str(optim.get('optimizer', {}).get('type', '?')),
        samples_per_iter=int(loader.get('batch_size', 1)) * accumulate)


def evaluate(config: str, checkpoint: str, methods: Sequence[str],
             max_images: Optional[int]) -> Dict[str, Any]:
    """Ordering and amodal numbers of one checkpoint (or baselines)."""
    results = evaluate_from_config(
        config, checkpoint, methods=list(methods), device='cpu',
        max_images=max_images, progress=False)
    out = {}
    for name, row in results.get('order', {}).items():
        out[f'order/{name}'] = row.get('acc_occluded')
    for name, row in results.get('amodal', {}).items():
        out[f'amodal/{name}'] = row.get('miou')
    return out


def _family(row: Dict[str, Any]) -> str:
    """The recipe a row belongs to: width, crop size and optimiser."""
    width = row.get('width')
    width = '?' if width is None else f'{width:g}'
    return f"w{width} c{row.get('crop', '?')} {row.get('optimiser', '?')}"


def _x(row: Dict[str, Any], key: str) -> float:
    """A row's position on a plot axis (core-hours = hours x threads)."""
    if key == 'core_hours':
        return float(row['hours']) * int(row.get('threads') or 1)
    return float(row[key])


def draw(rows: Sequence[Dict[str, Any]], baseline: Dict[str, Any],
         path: str) -> None:
    """Accuracy vs samples and vs core-hours.

    Final checkpoints (a run's fully decayed end) of one recipe (width,
    crop, optimiser) are joined by a solid line, so a line is the recipe's
    accuracy as a function of its training budget; checkpoints in the middle
    of a decaying schedule are drawn faint and dotted per run.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharey='row')
    metrics = (('order/ours', 'order/convex', 'ordering acc. (occluded, %)'),
               ('amodal/ours', 'amodal/convexr', 'OG amodal mIoU (%)'))
    finals = [r for r in rows if r.get('final', True)]
    middles = [r for r in rows if not r.get('final', True)]
    families = sorted({_family(r) for r in finals})
    colours = {f: f'C{i % 10}' for i, f in enumerate(families)}
    x_axes = (('samples', 'training samples'),
              ('core_hours', 'training core-hours (logged wall time x '
               'torch threads)'))
    for r_index, (key, base_key, label) in enumerate(metrics):
        for c_index, (x_key, x_label) in enumerate(x_axes):
            ax = axes[r_index, c_index]
            for family in families:
                pts = [(_x(r, x_key), r[key]) for r in sorted(
                    finals, key=lambda r: r['samples'])
                       if _family(r) == family and r.get(key) is not None]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], 'o-',
                        color=colours[family], label=family)
            for run in sorted({r['run'] for r in middles}):
                pts = sorted((_x(r, x_key), r[key]) for r in rows
                             if r['run'] == run and r.get(key) is not None)
                colour = colours.get(_family(
                    next(r for r in middles if r['run'] == run)), 'grey')
                ax.plot([p[0] for p in pts], [p[1] for p in pts], 'x:',
                        color=colour, alpha=0.5,
                        label=f'{run} (mid-schedule)')
            if baseline.get(base_key) is not None:
                ax.axhline(baseline[base_key], color='grey', ls='--',
                           label=base_key.split('/')[1])
            ax.set_xscale('log')
            ax.set_xlabel(x_label)
            if c_index == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Optional[List[str]] = None) -> int:
    """Evaluate the checkpoints and print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    merged = [load_report(path) for path in args.merge]
    if args.work_dirs:
        baseline = evaluate(args.config, None, BASELINES, args.max_images)
    else:
        baseline = merged[0]['baseline']
    rows = [row for report in merged for row in report['rows']]
    for work_dir in args.work_dirs:
        cfg = run_config(work_dir)
        summary = run_summary(cfg)
        scalars = logged_scalars(work_dir)
        ckpts = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')),
                       key=_iteration)
        if not ckpts:
            print(f'bench_scaling: error: {work_dir} has no iter_*.pth',
                  file=sys.stderr)
            return 2
        chosen = ckpts[args.every - 1::args.every]
        if ckpts[-1] not in chosen:
            chosen.append(ckpts[-1])
        max_iters = int(cfg.get('train_cfg', {}).get('max_iters', 0))
        for ckpt in chosen:
            it = _iteration(ckpt)
            row = dict(run=osp.basename(osp.normpath(work_dir)),
                       checkpoint=ckpt, iteration=it,
                       samples=it * summary['samples_per_iter'],
                       hours=round(hours_until(scalars, it), 3),
                       lr=scalars.get(it, {}).get('lr'),
                       final=it == max_iters, threads=args.train_threads,
                       **summary)
            row.update(evaluate(args.config, ckpt, NETWORK, args.max_images))
            rows.append(row)
            print(f"{row['run']} iter {it}: samples {row['samples']}, "
                  f"order {row['order/ours']:.2f}, OG "
                  f"{row['amodal/ours']:.2f}", flush=True)
    print()
    if baseline:
        print(f"Baselines: Convex ordering {baseline['order/convex']:.2f}, "
              f"Convex^R amodal {baseline['amodal/convexr']:.2f}")
    print('| run | width | crop | optimiser | samples | hours | lr | '
          'order (occluded) | OG mIoU | NOG mIoU |')
    print('|:--|--:|--:|:--|--:|--:|--:|--:|--:|--:|')
    for r in rows:
        lr = '' if r.get('lr') is None else f"{r['lr']:.1e}"
        tag = ' (final)' if r.get('final') else ''
        nog = r.get('amodal/ours_nog')
        nog = '' if nog is None else f'{nog:.2f}'
        width = r.get('width')
        width = '' if width is None else f'{width:g}'
        print(f"| {r['run']}{tag} | {width} | "
              f"{r.get('crop', '')} | {r.get('optimiser', '')} | "
              f"{r['samples']:,} | {r['hours']:.2f} | {lr} | "
              f"{r['order/ours']:.2f} | {r['amodal/ours']:.2f} | {nog} |")
    if args.json:
        from mmdeocc.utils.io import atomic_write_json
        atomic_write_json(dict(baseline=baseline, rows=rows), args.json,
                          compact=False)
    if args.plot:
        draw(rows, baseline, args.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
