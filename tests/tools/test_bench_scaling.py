"""tools/benchmarks/bench_scaling.py: merging recorded scaling points."""
import json
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'benchmarks'))

import bench_scaling  # noqa: E402


def _row(run, samples, hours, order, og, final=True, threads=1):
    return {
        'run': run, 'width': 0.5, 'crop': 128, 'optimiser': 'Adam',
        'samples': samples, 'hours': hours, 'final': final,
        'threads': threads, 'order/ours': order, 'amodal/ours': og,
        'amodal/ours_nog': og - 0.5
    }


def test_merge_redraws_plot_and_table_without_evaluating(tmp_path, capsys):
    report = tmp_path / 'runs.json'
    rows = [_row('short', 32000, 0.5, 83.0, 89.5),
            _row('long', 64000, 0.3, 86.0, 90.0, final=False),
            _row('long', 128000, 0.6, 88.5, 91.0, threads=2)]
    report.write_text(json.dumps(
        dict(baseline={'order/convex': 76.0, 'amodal/convexr': 86.9},
             rows=rows)))
    plot, out = tmp_path / 'plot.png', tmp_path / 'out.json'
    assert bench_scaling.main(['--merge', str(report), '--plot', str(plot),
                               '--json', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'Convex ordering 76.00' in printed
    assert '| long (final) | 0.5 | 128 | Adam | 128,000 | 0.60 |' in printed
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert json.loads(out.read_text())['rows'] == rows
    # core-hours on the plot's time axis
    assert bench_scaling._x(rows[2], 'core_hours') == pytest.approx(1.2)
    assert bench_scaling._family(rows[0]) == 'w0.5 c128 Adam'


def test_committed_study_points_load():
    report = bench_scaling.load_report(str(ROOT / 'docs' /
                                           'scaling_runs.json'))
    assert report['baseline']['order/convex'] == pytest.approx(76.01)
    assert {r['samples'] for r in report['rows'] if r['final']} >= {
        32000, 128000, 256000}


@pytest.mark.parametrize('content, needle', [
    ('{not json', 'cannot read report'),
    ('{"rows": [{"run": "x"}]}', 'is not a scaling report'),
])
def test_bad_report_names_the_file(tmp_path, content, needle):
    path = tmp_path / 'bad.json'
    path.write_text(content)
    with pytest.raises(SystemExit, match=needle) as err:
        bench_scaling.main(['--merge', str(path)])
    assert str(path) in str(err.value)


def test_needs_work_dirs_or_reports():
    with pytest.raises(SystemExit):
        bench_scaling.parse_args([])


def test_run_summary_reads_precision_from_the_optim_wrapper():
    cfg = Config(dict(
        model=dict(width=1.0, in_size=128),
        train_dataloader=dict(batch_size=16),
        optim_wrapper=dict(type='CPUBF16OptimWrapper',
                           optimizer=dict(type='Adam', lr=1e-3))))
    summary = bench_scaling.run_summary(cfg)
    assert summary == dict(precision='bf16', width=1.0, crop=128,
                           optimiser='Adam', samples_per_iter=16)
    cfg.optim_wrapper.type = 'OptimWrapper'
    assert bench_scaling.run_summary(cfg)['precision'] == 'fp32'
