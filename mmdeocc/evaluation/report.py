"""Report writing of the de-occlusion benchmark: Markdown tables and files.

This module's one job is to turn the results of
:meth:`~mmdeocc.evaluation.DeOcclusionEvaluator.compute` (or their JSON
form) into text and files:

- :func:`format_markdown`: the paper's Table 1 (ordering) and Table 2
  (amodal completion) in Markdown, rows in the order of the results (the
  evaluator emits them in the paper's row order, see
  :data:`~mmdeocc.evaluation.ORDER_ROWS` and
  :data:`~mmdeocc.evaluation.AMODAL_ROWS`); undefined values print as ``-``.
- :func:`save_results`: strict JSON (NaN and infinities become ``null``,
  numpy scalars become Python numbers) and/or the Markdown text, each
  written atomically (:func:`mmdeocc.utils.io.atomic_write_text`): a reader
  sees either the old file or the complete new one.

Example::

    from mmdeocc.evaluation import format_markdown, save_results
    print(format_markdown(results))
    save_results(results, 'results.json', 'results.md')
"""
import json
import math
from typing import Any, Mapping, Optional

import numpy as np

from mmdeocc.utils.io import atomic_write_text

__all__ = ['format_markdown', 'save_results']


def _finite_or_none(value: Any) -> Any:
    """Make a results tree strict-JSON serialisable, recursively.

    Args:
        value (Any): A results value (dicts, lists and tuples are walked).

    Returns:
        Any: The same tree with NaN/inf floats replaced by None, numpy
        scalars by Python scalars and tuples by lists.
    """
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any, digits: int = 2) -> str:
    """Format a percentage cell.

    Args:
        value (Any): The number (None, NaN or inf when undefined).
        digits (int): Digits after the decimal point.

    Returns:
        str: ``value`` with ``digits`` decimals, or ``'-'`` when undefined.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(
            value)):
        return '-'
    return f'{value:.{digits}f}'


def format_markdown(results: Mapping[str, Any]) -> str:
    """The two tables of :meth:`DeOcclusionEvaluator.compute` in Markdown.

    Args:
        results (Mapping): Output of :meth:`DeOcclusionEvaluator.compute`
            (or its JSON form).

    Returns:
        str: Markdown text (also readable as plain text).
    """
    data = results.get('dataset', {})
    settings = results.get('settings', {})
    name = data.get('name') or 'dataset'
    lines = [
        f'## De-occlusion evaluation on {name}', '',
        f'{data.get("num_images", 0)} images, {data.get("num_objects", 0)} '
        'objects; ground-truth modal masks in (paper protocol).', ''
    ]
    order = results.get('order') or {}
    if order:
        first = next(iter(order.values()))
        gt = settings.get('gt_order', 'masks')
        lines += [
            '### Occlusion ordering (Table 1): pairwise accuracy (%)', '',
            f'Ground-truth order from {gt}; '
            f'{first.get("num_occluded_pairs", 0)} occluded pairs of '
            f'{first.get("num_pairs", 0)} pairs.', '',
            '| Method | Occluded pairs | All pairs |',
            '|:--|--:|--:|'
        ]
        for row in order.values():
            lines.append(f'| {row["name"]} | {_fmt(row["acc_occluded"])} | '
                         f'{_fmt(row["acc_all"])} |')
        lines.append('')
    amodal = results.get('amodal') or {}
    if amodal:
        first = next(iter(amodal.values()))
        lines += [
            '### Amodal completion (Table 2): IoU with ground truth (%)', '',
            f'{first.get("num_objects", 0)} objects '
            f'({first.get("num_occluded", 0)} occluded; '
            f'{first.get("num_unrecoverable", 0)} fully hidden objects not '
            'scored). mIoU = pooled IoU (the paper\'s metric); inst. = mean '
            'per-instance IoU; occluded = occluded objects only; invisible '
            '= the invisible region of occluded objects.', '',
            '| Method | mIoU | mIoU inst. | mIoU occluded | mIoU invisible |',
            '|:--|--:|--:|--:|--:|'
        ]
        for row in amodal.values():
            lines.append(
                f'| {row["name"]} | {_fmt(row["miou"])} | '
                f'{_fmt(row["miou_inst"])} | {_fmt(row["miou_occ"])} | '
                f'{_fmt(row["miou_inv"])} |')
        lines.append('')
    return '\n'.join(lines)


def save_results(results: Mapping[str, Any],
                 json_path: Optional[str] = None,
                 md_path: Optional[str] = None) -> None:
    """Write the results as JSON (NaN -> null) and/or Markdown, atomically.

    The JSON is indented by two spaces and ends with a newline; the
    Markdown is :func:`format_markdown`. Folders are created as needed and
    existing files are replaced atomically.

    Args:
        results (Mapping): Output of :meth:`DeOcclusionEvaluator.compute`.
        json_path (str, optional): JSON destination.
        md_path (str, optional): Markdown destination.
    """
    if json_path:
        atomic_write_text(
            json.dumps(_finite_or_none(dict(results)), indent=2,
                       allow_nan=False) + '\n', json_path)
    if md_path:
        atomic_write_text(format_markdown(results), md_path)
