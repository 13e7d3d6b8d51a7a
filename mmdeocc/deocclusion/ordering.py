"""Occlusion ordering by dual completion (METHOD 2.2), batched.

For each touching pair (i, j) and each direction (target t, eraser e): crop
t's and e's modal masks in **t's** window with nearest sampling, optionally
dilate the eraser, zero t inside the eraser, run PCNet-M, and threshold the
foreground probability at ``order_th`` (0.1). The growth of t into e is the
number of predicted pixels that are inside the eraser and not in the erased
input, in original-image area: ``count * (side_t / S)^2``.

Decision: ``order[t, e] = -1`` (t is occluded by e) if
``growth[t, e] > growth[e, t]``, ``+1`` if smaller, 0 if equal (both 0
included). Non-touching pairs stay 0. The comparison is done on the exact
integers ``count * side_t^2`` (the common factor ``1 / S^2`` dropped), so it
has no float rounding.

All directed pairs of one image, or of many images, go through the network
in batches of ``batch_size`` (:func:`run_completion`).
"""
from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor

from mmdeocc.structures.touch import pair_list, touching_pairs
from .completion import CompletionJobs, Predictor, run_completion
from .scene import Scene


def directed_pairs(pairs: Tensor) -> Tensor:
    """Both directions of each unordered pair.

    Args:
        pairs (Tensor): ``(P, 2)`` pairs ``(i, j)``.

    Returns:
        Tensor: ``(2P, 2)`` ``(target, eraser)``: rows ``2p`` = ``(i, j)``
        and ``2p + 1`` = ``(j, i)``.
    """
    return torch.stack([pairs, pairs.flip(1)], 1).reshape(-1, 2)


def order_from_growth(num: int,
                      pairs: Tensor,
                      growth: Tensor,
                      tie_margin: Optional[float] = None,
                      fallback: Optional[Tensor] = None) -> Tensor:
    """Antisymmetric int8 order matrix from dual-completion growths.

    Args:
        num (int): Number of objects ``N``.
        pairs (Tensor): ``(P, 2)`` unordered pairs ``(i, j)``.
        growth (Tensor): ``(P, 2)`` growth of ``i`` into ``j`` (column 0)
            and of ``j`` into ``i`` (column 1), any comparable dtype.
        tie_margin (float, optional): Beyond the paper (None = the
            reference rule): pairs whose growths differ by at most
            ``tie_margin`` times the larger one (exact ties included) take
            their value from ``fallback``.
        fallback (Tensor, optional): ``(N, N)`` order used for those pairs
            (e.g. the convex-hull order); needed with ``tie_margin``.

    Returns:
        Tensor: ``(N, N)`` int8, ``order[i, j] = +1`` if i occludes j.
    """
    order = torch.zeros((num, num), dtype=torch.int8, device=pairs.device)
    if pairs.numel() == 0:
        return order
    growth = growth.to(pairs.device)
    value = torch.sign(growth[:, 1] - growth[:, 0]).to(torch.int8)
    if tie_margin is not None:
        larger = torch.maximum(growth[:, 0], growth[:, 1]).double()
        diff = (growth[:, 1] - growth[:, 0]).abs().double()
        near = diff <= float(tie_margin) * larger
        fallback = fallback.to(pairs.device, torch.int8)
        value[near] = fallback[pairs[near, 0], pairs[near, 1]]
    order[pairs[:, 0], pairs[:, 1]] = value
    order[pairs[:, 1], pairs[:, 0]] = -value
    return order


def ordering_jobs(scene: Scene, pairs: Tensor) -> CompletionJobs:
    """Completion items of the dual completion of ``pairs``.

    Args:
        scene (Scene): The image.
        pairs (Tensor): ``(P, 2)`` unordered touching pairs.

    Returns:
        CompletionJobs: ``2P`` items in :func:`directed_pairs` order.
    """
    directed = directed_pairs(pairs.to(scene.masks.device))
    target, eraser = directed[:, 0], directed[:, 1]
    cats = (
        scene.category_ids[target] if scene.category_ids is not None else None)
    return CompletionJobs(
        packed=scene.packed,
        windows=scene.windows[target],
        targets=scene.packed.selectors_from_indices(target),
        erasers=scene.packed.selectors_from_indices(eraser),
        category_ids=cats)


def completion_orders(scenes: Sequence[Scene],
                      predict: Predictor,
                      touches: Optional[Sequence[Tensor]] = None,
                      gap_tolerance: Union[int, float] = 0,
                      order_th: float = 0.1,
                      eraser_dilation: int = 0,
                      batch_size: int = 64,
                      size: int = 256,
                      tie_margin: Optional[float] = None,
                      fallbacks: Optional[Sequence[Tensor]] = None
                      ) -> List[Tensor]:
    """Order matrices of many images by batched dual completion.

    Args:
        scenes (Sequence[Scene]): Prepared images.
        predict (Predictor): The network call.
        touches (Sequence[Tensor], optional): Touch matrices per image;
            computed with ``gap_tolerance`` when not given.
        gap_tolerance (int | float): See :mod:`.pairs`.
        order_th (float): Foreground threshold (0.1 in the reference).
        eraser_dilation (int): Square eraser dilation kernel (0 = off).
        batch_size (int): Directed pairs per network call.
        size (int): Network input side ``S``.
        tie_margin (float, optional): See :func:`order_from_growth`.
        fallbacks (Sequence[Tensor], optional): Per image, the order of
            near-tied pairs (with ``tie_margin``).

    Returns:
        list[Tensor]: ``(N, N)`` int8 order matrices.
    """
    if tie_margin is not None and (fallbacks is None
                                   or len(fallbacks) != len(scenes)):
        raise ValueError('tie_margin needs one fallback order per image')
    if touches is None:
        touches = [
            touching_pairs(s.masks, gap_tolerance, s.packed, s.bboxes)
            for s in scenes
        ]
    pair_sets = [pair_list(t) for t in touches]
    jobs = [ordering_jobs(s, p) for s, p in zip(scenes, pair_sets)]
    growths = [
        torch.zeros(len(job), dtype=torch.long, device=s.masks.device)
        for job, s in zip(jobs, scenes)
    ]

    def consume(index: int, start: int, stop: int, modal_in: Tensor,
                eraser: Tensor, prob: Tensor) -> None:
        grown = (prob > order_th) & ~modal_in & eraser
        side = jobs[index].windows[start:stop, 2]
        growths[index][start:stop] = grown.flatten(1).sum(1) * side * side

    run_completion(jobs, predict, consume, size, 'nearest', eraser_dilation,
                   batch_size)
    return [
        order_from_growth(s.num, p, g.view(-1, 2), tie_margin,
                          fallbacks[k] if fallbacks is not None else None)
        for k, (s, p, g) in enumerate(zip(scenes, pair_sets, growths))
    ]
