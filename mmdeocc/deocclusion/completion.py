"""Batched partial completion: crops of many items of many images, one
network call per bounded batch.

An *item* is a (target set, eraser set, window) triple of one image: the
target's modal mask and the eraser (a union of objects) are cropped in the
window, the eraser is optionally dilated, the target is zeroed inside the
eraser, and PCNet-M predicts the completed target. Ordering (METHOD 2.2)
and amodal completion (METHOD 2.4) are both lists of such items; they only
differ in the sampling mode and in what they do with the probabilities.
"""
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmdeocc.structures.image_ops import crop_unions, dilate_square
from mmdeocc.structures.packed_masks import PackedMasks

# predict(modal_in (B,S,S) bool, eraser (B,S,S) bool, category_ids (B,) or
# None) -> (B,S,S) float foreground probability.
Predictor = Callable[[Tensor, Tensor, Optional[Tensor]], Tensor]
# consume(job index, start, stop, modal_in, eraser, prob)
Consumer = Callable[[int, int, int, Tensor, Tensor, Tensor], None]


@dataclass
class CompletionJobs:
    """The completion items of one image.

    Attributes:
        packed (PackedMasks): The image's packed modal masks.
        windows (Tensor): ``(K, 3)`` int64 ``[x0, y0, side]`` per item.
        targets (Tensor): ``(K, num_words)`` selectors of the target.
        erasers (Tensor): ``(K, num_words)`` selectors of the eraser union.
        category_ids (Tensor | None): ``(K,)`` target category ids.
    """
    packed: PackedMasks
    windows: Tensor
    targets: Tensor
    erasers: Tensor
    category_ids: Optional[Tensor] = None

    def __len__(self) -> int:
        return self.windows.shape[0]


def batch_segments(jobs: Sequence[CompletionJobs],
                   batch_size: int) -> Iterator[List[Tuple[int, int, int]]]:
    """Split the items of all jobs, in order, into batches.

    Yields:
        list[tuple[int, int, int]]: ``(job index, start, stop)`` segments
        whose lengths sum to at most ``batch_size``.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    batch: List[Tuple[int, int, int]] = []
    room = batch_size
    for index, job in enumerate(jobs):
        start = 0
        while start < len(job):
            stop = min(len(job), start + room)
            batch.append((index, start, stop))
            room -= stop - start
            start = stop
            if room == 0:
                yield batch
                batch, room = [], batch_size
    if batch:
        yield batch


def build_inputs(job: CompletionJobs, start: int, stop: int, size: int,
                 mode: str, eraser_dilation: int) -> Tuple[Tensor, Tensor]:
    """Network inputs of items ``start:stop`` of one job.

    The target and the eraser are cropped from one read of the packed
    masks per window (:func:`crop_unions`).

    Returns:
        tuple[Tensor, Tensor]: ``modal_in`` (target zeroed inside the eraser)
        and ``eraser``, both ``(B, S, S)`` bool.
    """
    modal, eraser = crop_unions(
        job.packed, job.windows[start:stop],
        [job.targets[start:stop], job.erasers[start:stop]], size, mode)
    eraser = dilate_square(eraser, eraser_dilation)
    return modal & ~eraser, eraser


def run_completion(jobs: Sequence[CompletionJobs],
                   predict: Predictor,
                   consume: Consumer,
                   size: int = 256,
                   mode: str = 'nearest',
                   eraser_dilation: int = 0,
                   batch_size: int = 64) -> None:
    """Run all items of all jobs through the network in bounded batches.

    Args:
        jobs (Sequence[CompletionJobs]): Items per image.
        predict (Predictor): The network call.
        consume (Consumer): Receives each segment's inputs and
            probabilities (on the crops' device).
        size (int): Crop side ``S``.
        mode (str): ``'nearest'`` or ``'bilinear'`` crop sampling.
        eraser_dilation (int): Square kernel for the eraser (0 = off).
        batch_size (int): Items per network call.
    """
    with_cats = [job.category_ids is not None for job in jobs if len(job)]
    if any(with_cats) and not all(with_cats):
        raise ValueError('category_ids were given for some images and not '
                         'for others; give them for every image or for none')
    for segments in batch_segments(jobs, batch_size):
        modal_parts, eraser_parts, cat_parts = [], [], []
        for index, start, stop in segments:
            job = jobs[index]
            modal_in, eraser = build_inputs(job, start, stop, size, mode,
                                            eraser_dilation)
            modal_parts.append(modal_in)
            eraser_parts.append(eraser)
            if job.category_ids is not None:
                cat_parts.append(job.category_ids[start:stop].to(
                    modal_in.device))
        modal_in = torch.cat(modal_parts)
        eraser = torch.cat(eraser_parts)
        cats = torch.cat(cat_parts) if cat_parts else None
        prob = predict(modal_in, eraser, cats)
        if prob.shape != modal_in.shape:
            raise RuntimeError(
                f'the model returned probabilities of shape '
                f'{tuple(prob.shape)} for inputs {tuple(modal_in.shape)}; '
                'predict_probs must return (B, S, S)')
        prob = prob.to(modal_in.device)
        offset = 0
        for index, start, stop in segments:
            length = stop - start
            consume(index, start, stop, modal_in[offset:offset + length],
                    eraser[offset:offset + length],
                    prob[offset:offset + length])
            offset += length
