"""A resumable, sharded job runner: work items in chunks, one part file each.

A :class:`ShardedJob` is a list of independent work items, a function that
processes a chunk of them into JSON-ready results (one per item), the
settings the results depend on and the output files. :func:`run_sharded_job`
runs it:

* the items are cut into chunks of ``chunk_size``; chunk ``k`` is processed
  by rank ``k % world_size`` (mmengine's distributed utilities; a single
  process is rank 0 of 1);
* each finished chunk is written atomically (temporary file +
  ``os.replace``) to ``<work_dir>/chunk-NNNNNN.json``; its presence records
  that the chunk is done, so a run killed at any moment resumes where it
  stopped. Leftover temporary files of a killed run are removed, and an
  unreadable or inconsistent part is processed again;
* the settings (plus the chunk size and :data:`PARTS_FORMAT_VERSION`) are
  hashed into a fingerprint, stored in ``<work_dir>/manifest.json`` and in
  every part; resuming with other settings is refused
  (:class:`JobSettingsMismatchError`, naming the settings that differ)
  unless ``restart=True``, which discards the parts and the outputs;
* rank 0 merges the parts in item order, hands the results to the job's
  ``write_outputs`` (which records the fingerprint in the first output) and
  removes the parts (``keep_parts`` keeps them). A finished output with the
  same fingerprint means there is nothing to do; one with another
  fingerprint is not overwritten without ``restart``.

The results therefore depend only on the items, the settings and the chunk
size, not on the number of processes nor on interruptions. Nothing here
knows what the items are.
"""
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, List, Mapping, Optional, Sequence,
                    Tuple)

from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import print_log
from tqdm import tqdm

from .io import atomic_write_json

__all__ = [
    'PARTS_FORMAT_VERSION', 'ChunkHook', 'JobError',
    'JobSettingsMismatchError', 'ShardedJob', 'JobReport', 'run_sharded_job',
    'prepare_work_dir', 'job_fingerprint', 'settings_differences',
    'parts_dir', 'chunk_path', 'write_job_json', 'read_json_or_none',
    'file_sha256'
]

#: Version of the parts layout and of the fingerprint recipe.
PARTS_FORMAT_VERSION = 1
#: Called with the chunk index after each part is written.
ChunkHook = Callable[[int], None]

_MANIFEST = 'manifest.json'
_CHUNK_NAME = 'chunk-{:06d}.json'
_TMP_MARK = '.tmp-'
_TRASH_SUFFIX = '.trash'
_COMPLETE, _RUN, _ERROR = 'complete', 'run', 'error'


class JobError(ValueError):
    """A sharded job cannot run or finish as asked."""


class JobSettingsMismatchError(JobError):
    """Existing parts or outputs were made with other settings."""


# ----------------------------------------------------------------------
# Paths, files and the fingerprint
# ----------------------------------------------------------------------
def parts_dir(out_file: str) -> str:
    """Default work folder of the per-chunk parts of ``out_file``."""
    return out_file + '.parts'


def chunk_path(work_dir: str, index: int) -> str:
    """Path of the part of chunk ``index``."""
    return osp.join(work_dir, _CHUNK_NAME.format(index))


def _tmp_prefix(path: str) -> str:
    """Prefix of the temporary files :func:`write_job_json` makes for
    ``path`` (so leftovers of a killed run can be found and removed)."""
    return f'.{osp.basename(path)}{_TMP_MARK}'


def write_job_json(obj: Any, path: str) -> None:
    """Compact JSON through :func:`mmdeocc.utils.io.atomic_write_json`, with
    a temporary-file prefix a resumed job recognises as a leftover.

    Jobs write their parts, their manifest and (in ``write_outputs``) their
    outputs with it.

    Args:
        obj (Any): JSON-serialisable object.
        path (str): Destination (its folder is created).
    """
    atomic_write_json(obj, path, prefix=_tmp_prefix(path))


def read_json_or_none(path: str) -> Optional[Any]:
    """Parsed JSON of ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, 'r') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes (to fingerprint an input file)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def job_fingerprint(settings: Mapping[str, Any],
                    chunk_size: int) -> Tuple[str, Dict[str, Any]]:
    """Fingerprint of a job's settings and parts layout.

    Args:
        settings (Mapping): JSON-ready description of everything the
            results depend on.
        chunk_size (int): Items per chunk (fixes the parts layout).

    Returns:
        tuple[str, dict]: Hex SHA-256 of the canonical JSON of ``settings``
        plus ``chunk_size`` and ``parts_format``, and those inputs as parsed
        back from that JSON (keys sorted).

    Raises:
        ValueError: ``settings`` has a ``chunk_size`` or ``parts_format``
            other than the job's.
    """
    inputs = dict(settings)
    for key, value in (('chunk_size', int(chunk_size)),
                       ('parts_format', PARTS_FORMAT_VERSION)):
        if inputs.setdefault(key, value) != value:
            raise ValueError(f'settings[{key!r}] = {inputs[key]!r} '
                             f'contradicts the job ({value!r})')
    text = json.dumps(inputs, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest(), json.loads(text)


def settings_differences(old: Mapping[str, Any],
                         new: Mapping[str, Any],
                         prefix: str = '') -> List[str]:
    """The settings that differ between two nested dicts.

    Args:
        old (Mapping): Existing settings.
        new (Mapping): Settings now.
        prefix (str): Prefix of the dotted keys.

    Returns:
        list[str]: ``'dotted.key: old (existing) vs new (now)'``, sorted by
        key.
    """
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f'{prefix}{key}'
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(settings_differences(a, b, name + '.'))
        elif a != b:
            out.append(f'{name}: {a!r} (existing) vs {b!r} (now)')
    return out


# ----------------------------------------------------------------------
# The job
# ----------------------------------------------------------------------
@dataclass
class ShardedJob:
    """A resumable job of independent work items (see the module doc).

    Args:
        items (Sequence): The work items, in output order.
        process_chunk (callable): ``chunk items -> list`` of JSON-ready
            results, one per item, in order.
        item_id (callable): JSON-ready id of an item, stored in the parts to
            check that a part belongs to its chunk.
        settings (Mapping): JSON-ready description of everything the results
            depend on (see :func:`job_fingerprint`).
        chunk_size (int): Items per chunk (one ``process_chunk`` call and
            one part file each).
        out_files (Sequence[str]): The outputs ``write_outputs`` writes;
            the first one records the fingerprint.
        write_outputs (callable): Rank 0, after all chunks are done:
            ``(results, fingerprint) -> Any`` writes every output (use
            :func:`write_job_json`) from the results of all items in item
            order; what it returns is :attr:`JobReport.output`.
        read_fingerprint (callable): ``path -> str | None``, the fingerprint
            recorded in an existing first output.
        restore_outputs (callable, optional): Called on rank 0 when the
            first output is finished with the same fingerprint, to rebuild
            the other outputs if they are missing.
        work_dir (str, optional): Folder of the parts (default
            :func:`parts_dir` of the first output).
        ids_key (str): Key of the item ids in a part file.
        results_key (str): Key of the results in a part file.
        restart_hint (str): How a user discards existing work (in messages).
        resume_hint (str): What a user keeps to resume (in messages).
    """
    items: Sequence[Any]
    process_chunk: Callable[[Sequence[Any]], List[Any]]
    item_id: Callable[[Any], Any]
    settings: Mapping[str, Any]
    chunk_size: int
    out_files: Sequence[str]
    write_outputs: Callable[[List[Any], str], Any]
    read_fingerprint: Callable[[str], Optional[str]]
    restore_outputs: Optional[Callable[[], None]] = None
    work_dir: Optional[str] = None
    ids_key: str = 'item_ids'
    results_key: str = 'results'
    restart_hint: str = 'restart=True'
    resume_hint: str = 'Use the same settings to resume'
    fingerprint: str = field(init=False)
    inputs: Dict[str, Any] = field(init=False)
    chunks: List[Sequence[Any]] = field(init=False)
    chunk_ids: List[List[Any]] = field(init=False)

    def __post_init__(self) -> None:
        if int(self.chunk_size) != self.chunk_size or self.chunk_size < 1:
            raise JobError('chunk_size must be an integer >= 1, got '
                           f'{self.chunk_size!r}')
        if not self.out_files:
            raise JobError('a job needs at least one output file')
        self.chunk_size = int(self.chunk_size)
        if self.work_dir is None:
            self.work_dir = parts_dir(self.out_files[0])
        self.fingerprint, self.inputs = job_fingerprint(
            self.settings, self.chunk_size)
        size = self.chunk_size
        self.chunks = [
            self.items[k:k + size] for k in range(0, len(self.items), size)
        ]
        self.chunk_ids = [[self.item_id(item) for item in chunk]
                          for chunk in self.chunks]

    @property
    def num_chunks(self) -> int:
        """Number of chunks."""
        return len(self.chunks)

    def part_path(self, index: int) -> str:
        """Path of the part of chunk ``index``."""
        return chunk_path(self.work_dir, index)

    def write_part(self, index: int, results: List[Any]) -> None:
        """Write the part of chunk ``index`` atomically."""
        write_job_json(
            {
                'chunk': index,
                'fingerprint': self.fingerprint,
                self.ids_key: self.chunk_ids[index],
                self.results_key: results
            }, self.part_path(index))

    def load_part(self, index: int) -> Optional[List[Any]]:
        """The results of chunk ``index`` if its part is complete.

        Args:
            index (int): Chunk index.

        Returns:
            list | None: The chunk's results, or None when the part is
            missing or unreadable or does not match the chunk (it is then
            processed again, with a warning for an existing one).

        Raises:
            JobSettingsMismatchError: The part was written with other
                settings.
        """
        path = self.part_path(index)
        if not osp.isfile(path):
            return None
        part = read_json_or_none(path)
        ids = self.chunk_ids[index]
        ok = (isinstance(part, dict) and part.get('chunk') == index
              and part.get(self.ids_key) == list(ids)
              and isinstance(part.get(self.results_key), list)
              and len(part[self.results_key]) == len(ids))
        if ok and part.get('fingerprint') != self.fingerprint:
            raise JobSettingsMismatchError(
                f'{path}: written with settings fingerprint '
                f'{part.get("fingerprint")}, expected {self.fingerprint}; '
                f'rerun with {self.restart_hint} to start over')
        if not ok:
            print_log(f'{path}: unreadable or inconsistent part; chunk '
                      f'{index} will be processed again', logger='current',
                      level=logging.WARNING)
            return None
        return part[self.results_key]


@dataclass
class JobReport:
    """What :func:`run_sharded_job` did (this rank's view).

    Attributes:
        fingerprint (str): The job's fingerprint.
        num_chunks (int): Chunks of the whole job.
        chunks_reused (int): Chunks found done (on any rank) at the start.
        chunks_processed (int): Chunks processed by this rank in this call.
        items_processed (int): Items processed by this rank in this call.
        seconds (float): Time this rank spent processing chunks.
        already_complete (bool): The outputs existed with the same
            fingerprint; nothing was done.
        results (list, optional): Rank 0: the results of all items, in item
            order (None elsewhere and when already complete).
        output (Any): Rank 0: what ``write_outputs`` returned.
    """
    fingerprint: str
    num_chunks: int = 0
    chunks_reused: int = 0
    chunks_processed: int = 0
    items_processed: int = 0
    seconds: float = 0.0
    already_complete: bool = False
    results: Optional[List[Any]] = None
    output: Any = None


# ----------------------------------------------------------------------
# Rank 0: the work folder
# ----------------------------------------------------------------------
def _remove_leftovers(job: ShardedJob) -> None:
    """Remove temporary files of writes a killed run did not finish."""
    if osp.isdir(job.work_dir):
        for name in os.listdir(job.work_dir):
            if _TMP_MARK in name:
                os.remove(osp.join(job.work_dir, name))
    for path in job.out_files:
        folder = osp.dirname(osp.abspath(path))
        if not osp.isdir(folder):
            continue
        prefix = _tmp_prefix(path)
        for name in os.listdir(folder):
            if name.startswith(prefix):
                os.remove(osp.join(folder, name))


def _discard(job: ShardedJob) -> None:
    """Remove the outputs and the parts (``restart``)."""
    for path in job.out_files:
        if osp.exists(path):
            os.remove(path)
    if osp.isdir(job.work_dir):
        shutil.rmtree(job.work_dir)


def _check_manifest(job: ShardedJob, manifest: Mapping[str, Any]) -> None:
    """Refuse parts made with other settings, naming the differences."""
    if manifest.get('fingerprint') == job.fingerprint:
        return
    diff = settings_differences(manifest.get('inputs', {}), job.inputs)
    raise JobSettingsMismatchError(
        f'{job.work_dir} holds parts made with other settings:\n  ' +
        '\n  '.join(diff or ['(unknown)']) +
        f'\n{job.resume_hint}, or pass {job.restart_hint} to discard them.')


def _check_finished_output(job: ShardedJob) -> None:
    """The first output exists without parts: it must be this job's."""
    out_file = job.out_files[0]
    recorded = job.read_fingerprint(out_file)
    if recorded != job.fingerprint:
        raise JobSettingsMismatchError(
            f'{out_file} exists and was not made with these settings '
            f'(fingerprint {recorded} vs {job.fingerprint}); pass '
            f'{job.restart_hint} to overwrite it')
    if job.restore_outputs is not None:
        job.restore_outputs()


def prepare_work_dir(job: ShardedJob, restart: bool) -> str:
    """Rank 0: clean up, check and create the work folder.

    Args:
        job (ShardedJob): The job.
        restart (bool): Discard existing parts and outputs first.

    Returns:
        str: ``'complete'`` (the outputs are finished with the same
        fingerprint) or ``'run'``.

    Raises:
        JobSettingsMismatchError: Parts or a finished output made with other
            settings.
    """
    trash = job.work_dir + _TRASH_SUFFIX
    if osp.isdir(trash):
        shutil.rmtree(trash)
    if restart:
        _discard(job)
    _remove_leftovers(job)
    manifest_path = osp.join(job.work_dir, _MANIFEST)
    manifest = read_json_or_none(manifest_path) \
        if osp.isdir(job.work_dir) else None
    if isinstance(manifest, dict):
        _check_manifest(job, manifest)
        return _RUN
    if osp.isfile(job.out_files[0]) and not osp.isdir(job.work_dir):
        _check_finished_output(job)
        return _COMPLETE
    os.makedirs(job.work_dir, exist_ok=True)
    write_job_json(
        dict(fingerprint=job.fingerprint, inputs=dict(job.inputs),
             num_chunks=job.num_chunks), manifest_path)
    return _RUN


def _merge(job: ShardedJob, keep_parts: bool) -> Tuple[List[Any], Any]:
    """Rank 0: read every part, write the outputs, remove the parts."""
    results: List[Any] = []
    missing = []
    for index in range(job.num_chunks):
        part = job.load_part(index)
        if part is None:
            missing.append(index)
        else:
            results.extend(part)
    if missing:
        raise JobError(
            f'{job.work_dir}: chunks {missing[:10]} are missing after '
            'processing (a rank failed?); rerun the same command to resume')
    output = job.write_outputs(results, job.fingerprint)
    if not keep_parts:
        trash = job.work_dir + _TRASH_SUFFIX
        os.replace(job.work_dir, trash)
        shutil.rmtree(trash)
    return results, output


# ----------------------------------------------------------------------
# Every rank
# ----------------------------------------------------------------------
def _broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (identity when not distributed)."""
    holder = [value]
    broadcast_object_list(holder, src=0)
    return holder[0]


def _agree_on_state(job: ShardedJob, restart: bool, rank: int) -> str:
    """Rank 0 prepares the work folder; every rank learns the outcome."""
    state = None
    if rank == 0:
        try:
            state = prepare_work_dir(job, restart)
        except Exception as err:  # tell the other ranks, then raise
            _broadcast(f'{_ERROR}: {err}')
            raise
    state = _broadcast(state)
    if state.startswith(_ERROR):
        raise JobError(
            f'rank 0 failed to prepare the work folder ({state})')
    return state


def _chunks_to_do(job: ShardedJob, rank: int,
                  world_size: int) -> Tuple[List[int], int]:
    """This rank's chunks without a valid part, and the number of chunks
    (of every rank) found done."""
    todo, reused = [], 0
    for index in range(job.num_chunks):
        done = osp.isfile(job.part_path(index))
        reused += int(done)
        if index % world_size == rank and (not done
                                           or job.load_part(index) is None):
            todo.append(index)
    return todo, reused


def _process(job: ShardedJob, todo: Sequence[int], report: JobReport,
             bar: tqdm, chunk_hook: Optional[ChunkHook]) -> None:
    """Process this rank's chunks, writing one part each."""
    start = time.perf_counter()
    for index in todo:
        chunk = job.chunks[index]
        results = job.process_chunk(chunk)
        if not isinstance(results, list) or len(results) != len(chunk):
            got = (f'{len(results)} results' if isinstance(results, list)
                   else type(results).__name__)
            raise JobError(
                f'process_chunk returned {got} for the {len(chunk)} items '
                f'of chunk {index}; expected a list, one result per item')
        job.write_part(index, results)
        report.chunks_processed += 1
        report.items_processed += len(chunk)
        bar.update(len(chunk))
        if chunk_hook is not None:
            chunk_hook(index)
    report.seconds = time.perf_counter() - start


def run_sharded_job(job: ShardedJob,
                    restart: bool = False,
                    keep_parts: bool = False,
                    progress: bool = True,
                    desc: str = 'chunks',
                    unit: str = 'item',
                    chunk_hook: Optional[ChunkHook] = None) -> JobReport:
    """Run (or resume) a sharded job on every rank (see the module doc).

    Call it on every rank of a distributed job, or once in a single
    process.

    Args:
        job (ShardedJob): The job.
        restart (bool): Discard existing parts and outputs.
        keep_parts (bool): Keep the parts after the merge.
        progress (bool): Show a progress bar on rank 0.
        desc (str): Description of the progress bar.
        unit (str): Unit of the progress bar (one item).
        chunk_hook (callable, optional): Called with the chunk index after
            each part is written (e.g. to report progress).

    Returns:
        JobReport: What was done.

    Raises:
        JobSettingsMismatchError: Existing parts or outputs made with other
            settings (and ``restart`` is False).
        JobError: Rank 0 failed to prepare the work folder (other ranks), or
            parts are missing at the merge.
    """
    rank, world_size = get_dist_info()
    report = JobReport(fingerprint=job.fingerprint,
                       num_chunks=job.num_chunks)
    if _agree_on_state(job, restart, rank) == _COMPLETE:
        report.already_complete = True
        if rank == 0:
            print_log(f'{job.out_files[0]} is complete (same settings); '
                      'nothing to do', logger='current')
        return report
    barrier()

    todo, report.chunks_reused = _chunks_to_do(job, rank, world_size)
    barrier()  # every rank has looked at the parts before any is written

    bar = tqdm(total=sum(len(job.chunks[k]) for k in todo),
               disable=not (progress and rank == 0), unit=unit,
               desc=f'{desc} [rank 0/{world_size}]')
    try:
        _process(job, todo, report, bar, chunk_hook)
    finally:
        bar.close()
    barrier()

    if rank == 0:
        report.results, report.output = _merge(job, keep_parts)
    barrier()
    return report
