"""Tests of the resumable sharded job runner (mmdeocc.utils.jobs).

The job squares integers: every item's result is known, so a run can be
checked for lost or duplicated items after any interruption.
"""
import json
import os
from pathlib import Path
from typing import List, Optional

import pytest

from mmdeocc.utils import jobs
from mmdeocc.utils.jobs import (PARTS_FORMAT_VERSION, JobError,
                                JobSettingsMismatchError, ShardedJob,
                                job_fingerprint, parts_dir, read_json_or_none,
                                run_sharded_job, settings_differences,
                                write_job_json)


class Squares:
    """A job over ``range(num_items)``: result ``{'n': i, 'square': i*i}``;
    outputs ``squares.json`` (with the fingerprint) and ``total.json``.

    Args:
        folder (Path): Where the outputs go.
        settings (dict, optional): The job's settings.
        chunk_size (int): Items per chunk.
        num_items (int): Number of items.
        fail_on_chunk (int, optional): Raise when asked to process the
            chunk with this number of calls already made (0-based).
    """

    def __init__(self, folder: Path, settings: Optional[dict] = None,
                 chunk_size: int = 3, num_items: int = 10,
                 fail_on_chunk: Optional[int] = None):
        self.out = folder / 'squares.json'
        self.total = folder / 'total.json'
        self.settings = settings if settings is not None else dict(power=2)
        self.chunk_size = chunk_size
        self.num_items = num_items
        self.fail_on_chunk = fail_on_chunk
        self.processed: List[int] = []  # items, in processing order
        self.chunk_calls = 0
        self.restored = 0

    def process(self, chunk) -> List[dict]:
        if self.chunk_calls == self.fail_on_chunk:
            raise RuntimeError('injected failure')
        self.chunk_calls += 1
        self.processed.extend(chunk)
        return [dict(n=i, square=i * i) for i in chunk]

    def write(self, results: List[dict], fingerprint: str) -> int:
        squares = [r['square'] for r in results]
        write_job_json(dict(fingerprint=fingerprint, squares=squares),
                       str(self.out))
        write_job_json(dict(total=sum(squares)), str(self.total))
        return len(results)

    def read_fingerprint(self, path: str) -> Optional[str]:
        data = read_json_or_none(path)
        return data.get('fingerprint') if isinstance(data, dict) else None

    def restore(self) -> None:
        self.restored += 1
        if not self.total.exists():
            squares = json.loads(self.out.read_text())['squares']
            write_job_json(dict(total=sum(squares)), str(self.total))

    def job(self) -> ShardedJob:
        return ShardedJob(
            items=list(range(self.num_items)),
            process_chunk=self.process,
            item_id=lambda i: i,
            settings=self.settings,
            chunk_size=self.chunk_size,
            out_files=(str(self.out), str(self.total)),
            write_outputs=self.write,
            read_fingerprint=self.read_fingerprint,
            restore_outputs=self.restore)

    def run(self, **kwargs) -> jobs.JobReport:
        return run_sharded_job(self.job(), progress=False, **kwargs)

    @property
    def work(self) -> Path:
        return Path(parts_dir(str(self.out)))


def expected_squares(num_items: int = 10) -> List[int]:
    return [i * i for i in range(num_items)]


def test_run_writes_outputs_and_removes_parts(tmp_path):
    sq = Squares(tmp_path)
    report = sq.run()
    assert json.loads(sq.out.read_text())['squares'] == expected_squares()
    assert json.loads(sq.total.read_text()) == dict(total=285)
    assert report.results == [dict(n=i, square=i * i) for i in range(10)]
    assert report.output == 10  # what write_outputs returned
    assert (report.num_chunks, report.chunks_reused,
            report.chunks_processed, report.items_processed) == (4, 0, 4, 10)
    assert not report.already_complete
    assert sq.processed == list(range(10))
    assert not sq.work.exists()
    assert sorted(os.listdir(tmp_path)) == ['squares.json', 'total.json']
    # the fingerprint recorded in the output is the job's
    assert json.loads(sq.out.read_text())['fingerprint'] == \
        report.fingerprint == sq.job().fingerprint


def test_parts_layout(tmp_path):
    sq = Squares(tmp_path, chunk_size=4)
    report = sq.run(keep_parts=True)
    assert sorted(os.listdir(sq.work)) == [
        'chunk-000000.json', 'chunk-000001.json', 'chunk-000002.json',
        'manifest.json'
    ]
    part = json.loads((sq.work / 'chunk-000002.json').read_text())
    assert part == dict(chunk=2, fingerprint=report.fingerprint,
                        item_ids=[8, 9],
                        results=[dict(n=8, square=64),
                                 dict(n=9, square=81)])
    manifest = json.loads((sq.work / 'manifest.json').read_text())
    assert manifest == dict(
        fingerprint=report.fingerprint, num_chunks=3,
        inputs=dict(chunk_size=4, parts_format=PARTS_FORMAT_VERSION,
                    power=2))


def test_interrupted_run_resumes_without_loss_or_duplicates(tmp_path):
    ref = Squares(tmp_path / 'ref')
    ref.run()

    sq = Squares(tmp_path / 'run', fail_on_chunk=2)
    with pytest.raises(RuntimeError, match='injected failure'):
        sq.run()
    assert not sq.out.exists()
    assert sorted(os.listdir(sq.work)) == [
        'chunk-000000.json', 'chunk-000001.json', 'manifest.json'
    ]
    first = list(sq.processed)
    assert first == list(range(6))
    # leftovers of writes a kill interrupted (part and output)
    (sq.work / '.chunk-000002.json.tmp-abc.tmp').write_text('{"chunk": 2')
    (sq.out.parent / '.squares.json.tmp-def.tmp').write_text('{"squ')

    sq.fail_on_chunk = None
    sq.processed.clear()
    report = sq.run()
    assert (report.chunks_reused, report.chunks_processed,
            report.items_processed) == (2, 2, 4)
    assert sq.processed == list(range(6, 10))
    assert sorted(first + sq.processed) == list(range(10))  # each once
    assert sq.out.read_bytes() == ref.out.read_bytes()
    assert sq.total.read_bytes() == ref.total.read_bytes()
    assert sorted(os.listdir(sq.out.parent)) == ['squares.json', 'total.json']


def test_interrupted_by_chunk_hook(tmp_path):
    """A failure after a part is written keeps that part."""
    sq = Squares(tmp_path)
    seen = []

    def stop_after_first(index):
        seen.append(index)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sq.run(chunk_hook=stop_after_first)
    assert seen == [0]
    report = sq.run(chunk_hook=seen.append)
    assert seen == [0, 1, 2, 3] and report.chunks_reused == 1
    assert json.loads(sq.out.read_text())['squares'] == expected_squares()


def test_settings_mismatch_is_refused(tmp_path):
    sq = Squares(tmp_path, fail_on_chunk=1)
    with pytest.raises(RuntimeError):
        sq.run()
    other = Squares(tmp_path, settings=dict(power=3))
    with pytest.raises(JobSettingsMismatchError,
                       match=r'(?s)holds parts made with other settings.*'
                       r'power: 2 \(existing\) vs 3 \(now\).*'
                       r'Use the same settings to resume, or pass '
                       r'restart=True to discard them'):
        other.run()
    assert other.processed == []  # nothing was computed
    with pytest.raises(JobSettingsMismatchError,
                       match=r'chunk_size: 3 \(existing\) vs 4 \(now\)'):
        Squares(tmp_path, chunk_size=4).run()
    report = other.run(restart=True)
    assert report.chunks_reused == 0 and report.chunks_processed == 4
    assert other.processed == list(range(10))


def test_part_with_other_fingerprint_is_refused(tmp_path):
    sq = Squares(tmp_path)
    sq.run(keep_parts=True)
    part = sq.work / 'chunk-000001.json'
    data = json.loads(part.read_text())
    data['fingerprint'] = 'f' * 64
    part.write_text(json.dumps(data))
    sq.out.unlink()
    with pytest.raises(JobSettingsMismatchError,
                       match='written with settings fingerprint f{64}'):
        sq.run()


def test_unreadable_part_is_redone(tmp_path):
    sq = Squares(tmp_path)
    sq.run(keep_parts=True)
    reference = sq.out.read_bytes()
    part = sq.work / 'chunk-000002.json'
    part.write_text(part.read_text()[:20])  # damaged on disk
    sq.out.unlink()
    sq.processed.clear()
    report = sq.run()
    assert report.chunks_processed == 1 and sq.processed == [6, 7, 8]
    assert sq.out.read_bytes() == reference


def test_finished_output(tmp_path):
    sq = Squares(tmp_path)
    sq.run()
    stamp = sq.out.stat().st_mtime_ns
    sq.processed.clear()
    report = sq.run()
    assert report.already_complete and sq.processed == []
    assert report.results is None and sq.restored == 1
    assert sq.out.stat().st_mtime_ns == stamp
    total = sq.total.read_bytes()
    sq.total.unlink()  # a lost secondary output is restored
    assert sq.run().already_complete
    assert sq.total.read_bytes() == total
    # an output made with other settings is not overwritten
    other = Squares(tmp_path, settings=dict(power=3))
    with pytest.raises(JobSettingsMismatchError,
                       match='squares.json exists and was not made with '
                       'these settings'):
        other.run()
    assert sq.out.stat().st_mtime_ns == stamp
    other.run(restart=True)
    assert other.processed == list(range(10))


def test_sharding_across_ranks(tmp_path, monkeypatch):
    """Rank 0 of 2 processes the even chunks; the merge then refuses to
    write; a later single-process run completes only the odd ones."""
    ref = Squares(tmp_path / 'ref')
    ref.run()
    sq = Squares(tmp_path / 'run')
    monkeypatch.setattr(jobs, 'get_dist_info', lambda: (0, 2))
    with pytest.raises(JobError, match=r'chunks \[1, 3\] are missing'):
        sq.run()
    assert sq.processed == [0, 1, 2, 6, 7, 8]
    monkeypatch.undo()
    sq.processed.clear()
    report = sq.run()
    assert report.chunks_reused == 2 and sq.processed == [3, 4, 5, 9]
    assert sq.out.read_bytes() == ref.out.read_bytes()


def test_process_chunk_must_return_one_result_per_item(tmp_path):
    sq = Squares(tmp_path)
    job = sq.job()
    job.process_chunk = lambda chunk: [0]
    with pytest.raises(JobError, match='returned 1 results for the 3 items'):
        run_sharded_job(job, progress=False)


def test_job_fingerprint():
    fp, inputs = job_fingerprint(dict(b=1, a=dict(y=2, x=[1, 2])), 8)
    assert inputs == dict(a=dict(x=[1, 2], y=2), b=1, chunk_size=8,
                          parts_format=PARTS_FORMAT_VERSION)
    assert list(inputs) == sorted(inputs)
    assert job_fingerprint(dict(a=dict(x=[1, 2], y=2), b=1), 8)[0] == fp
    assert job_fingerprint(dict(b=1, a=dict(y=2, x=[1, 2])), 9)[0] != fp
    assert job_fingerprint(dict(b=2, a=dict(y=2, x=[1, 2])), 8)[0] != fp
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert job_fingerprint(inputs, 8) == (fp, inputs)  # idempotent
    with pytest.raises(ValueError, match='chunk_size'):
        job_fingerprint(dict(chunk_size=4), 8)


def test_settings_differences():
    assert settings_differences(
        dict(a=1, m=dict(w='x', k=3)), dict(a=1, m=dict(w='y'), n=None)) == [
            'm.k: 3 (existing) vs None (now)',
            "m.w: 'x' (existing) vs 'y' (now)"
        ]


def test_bad_job(tmp_path):
    sq = Squares(tmp_path, chunk_size=0)
    with pytest.raises(JobError, match='chunk_size must be an integer'):
        sq.job()
