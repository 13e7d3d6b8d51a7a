"""Amodal completion (METHOD 2.4), batched over objects and images.

For each object i with a non-empty modal mask:

* OG (ordering-grounded, the method, ``method='og'``): eraser = union of the
  modal masks of ``ancestors(i)``;
* NOG (ablation, ``method='nog'``): eraser = union of the modal masks of
  every object with a non-zero relation to i.

Target and eraser are cropped in i's window with bilinear sampling then
``> 0.5``, the eraser is optionally dilated, the target is zeroed inside the
eraser, PCNet-M runs, the probability is thresholded at ``amodal_th``
(``> 0.2`` by default, as the reference evaluation; the demos used 0.5 for
COCOA, 0.4 for KINS) and the binary patch is pasted back (bilinear to
``side x side``, ``> 0.5``, clipped to the image).

Reference behaviour is the default: the network runs even when the eraser is
empty, the result is not united with the visible mask and growth is not
restricted. Two options change that (documented deviations):

* ``union_visible``: ``amodal |= modal`` (guarantees amodal contains modal);
* ``restrict_to_eraser``: the invisible part must lie inside the eraser at
  full resolution: ``amodal &= modal | eraser`` (the *undilated* eraser
  union; ``eraser_dilation`` only affects the network input).

Objects with an empty modal mask get an empty amodal mask (no crop exists;
the reference's use of ground-truth amodal boxes is not reproduced).
"""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from mmdeocc.structures.image_ops import paste_patches
from mmdeocc.structures.order import OrderLike, ancestor_matrix
from .completion import CompletionJobs, Predictor, run_completion
from .scene import Scene

ERASER_METHODS = ('og', 'nog')


def eraser_members(order: OrderLike, method: str = 'og') -> Tensor:
    """Which objects form each object's eraser.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.
        method (str): ``'og'`` (ancestors) or ``'nog'`` (any relation).

    Returns:
        Tensor: ``(N, N)`` bool on the CPU, ``members[i, j]`` = j is part
        of i's eraser (never i itself).
    """
    if method == 'og':
        return torch.from_numpy(ancestor_matrix(order))
    if method == 'nog':
        order = torch.as_tensor(order)
        members = (order != 0).cpu()
        if members.numel():
            members.fill_diagonal_(False)
        return members
    raise ValueError(f'method must be one of {ERASER_METHODS}, got '
                     f'{method!r}')


def amodal_jobs(scene: Scene, members: Tensor) -> CompletionJobs:
    """Completion items of the amodal completion of non-empty objects.

    Args:
        scene (Scene): The image.
        members (Tensor): ``(N, N)`` eraser members (:func:`eraser_members`).

    Returns:
        CompletionJobs: One item per non-empty object, in index order.
    """
    n = scene.num
    if tuple(members.shape) != (n, n):
        raise ValueError(f'order: expected shape ({n}, {n}) for {n} masks, '
                         f'got {tuple(members.shape)}')
    objects = torch.nonzero(scene.nonempty, as_tuple=True)[0]
    members = members.to(scene.masks.device)[objects]
    cats = (
        scene.category_ids[objects]
        if scene.category_ids is not None else None)
    return CompletionJobs(
        packed=scene.packed,
        windows=scene.windows[objects],
        targets=scene.packed.selectors_from_indices(objects),
        erasers=scene.packed.selectors_from_members(members),
        category_ids=cats)


def completion_amodal(
        scenes: Sequence[Scene],
        orders: Sequence[OrderLike],
        predict: Predictor,
        method: str = 'og',
        amodal_th: float = 0.2,
        eraser_dilation: int = 0,
        union_visible: bool = False,
        restrict_to_eraser: bool = False,
        batch_size: int = 64,
        size: int = 256,
        members: Optional[Sequence[Tensor]] = None) -> List[Tensor]:
    """Amodal masks of many images, objects batched across images.

    Args:
        scenes (Sequence[Scene]): Prepared images.
        orders (Sequence): ``(N, N)`` order matrices, one per scene.
        predict (Predictor): The network call.
        method (str): ``'og'`` or ``'nog'``.
        amodal_th (float): Foreground threshold (``> amodal_th``).
        eraser_dilation (int): Square eraser dilation kernel (0 = off).
        union_visible (bool): Unite the result with the modal mask.
        restrict_to_eraser (bool): Keep only pixels in modal or eraser.
        batch_size (int): Objects per network call.
        size (int): Network input side ``S``.
        members (Sequence[Tensor], optional): Precomputed eraser members,
            overriding ``method``.

    Returns:
        list[Tensor]: ``(N, H, W)`` bool amodal masks per scene.
    """
    if len(orders) != len(scenes):
        raise ValueError(f'got {len(orders)} order matrices for '
                         f'{len(scenes)} images')
    if members is None:
        members = [eraser_members(o, method) for o in orders]
    jobs = [amodal_jobs(s, m) for s, m in zip(scenes, members)]
    outputs = [torch.zeros_like(s.masks) for s in scenes]
    owners = [torch.nonzero(s.nonempty, as_tuple=True)[0] for s in scenes]

    def consume(index: int, start: int, stop: int, modal_in: Tensor,
                eraser: Tensor, prob: Tensor) -> None:
        job = jobs[index]
        allowed = None
        if restrict_to_eraser:
            allowed = job.targets[start:stop] | job.erasers[start:stop]
        paste_patches(prob > amodal_th, job.windows[start:stop],
                      outputs[index], owners[index][start:stop], job.packed,
                      allowed)

    run_completion(jobs, predict, consume, size, 'bilinear', eraser_dilation,
                   batch_size)
    if union_visible:
        for out, scene in zip(outputs, scenes):
            out |= scene.masks
    return outputs
