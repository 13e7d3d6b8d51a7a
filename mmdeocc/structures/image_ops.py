"""Image operations of the inference core: crops, paste-back, normalising.

Two families, both shared by training and inference so that they crop
identically:

* **masks** (METHOD 1.3): vectorised crop-and-resize of unions of packed
  masks (:func:`crop_union`), square dilation and paste-back of many
  patches (:func:`paste_patches`), in exact integer arithmetic;
* **RGB** (METHOD 3.2): one affine resampling per crop
  (:func:`crop_resize_image`) and back (:func:`paste_resize_image`), and the
  ImageNet normalisation of PCNet-C's input (:func:`normalize_rgb`).

Mask pixel conventions (the same as OpenCV's ``cv2.resize`` and torch's
``F.interpolate(..., align_corners=False)`` with the source window
``[x0, x0 + side) x [y0, y0 + side)``, zero outside the image):

* nearest: output pixel ``d`` of ``S`` reads source pixel
  ``floor(d * side / S)`` (``cv2.INTER_NEAREST``);
* bilinear: output pixel ``d`` samples the source at
  ``(d + 0.5) * side / S - 0.5``, clamped to ``[0, side - 1]`` (half-pixel
  centres, border replicated *inside the window*; the window's own padding
  outside the image is zero).

Both are computed in exact integer arithmetic: a bilinear value of a binary
mask is ``sum(w_y * w_x * m) / (2 S)^2`` with integer tap weights, and the
``> 0.5`` test is ``2 * sum > (2 S)^2``. The result is therefore independent
of batching and summation order (float implementations such as OpenCV's
flip pixels whose value is exactly 0.5 depending on rounding).

Crops only gather the ``S x S`` (or ``4 S x S``) pixels each window needs;
paste-back enumerates only the pixels of each clipped window, in bounded
chunks, so nothing of size ``N x H x W`` is allocated besides the output.

The RGB crop samples the window ``[x0, x0 + side)`` at
``x0 + (d + 0.5) * side / S - 0.5`` (half-pixel centres, as ``cv2.resize``
and the bilinear mask crops), with zero (black) outside the image.
"""
import sys
import threading
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmdeocc.utils.validation import check_choice
from .packed_masks import BITS_PER_WORD, DEFAULT_PIXEL_CHUNK, PackedMasks

__all__ = [
    'SAMPLING_MODES', 'nearest_taps', 'linear_taps', 'crop_union',
    'crop_unions', 'dilate_square', 'paste_patches', 'IMAGENET_MEAN',
    'IMAGENET_STD', 'INTERPOLATIONS', 'crop_resize_image',
    'paste_resize_image', 'normalize_rgb', 'denormalize_rgb', 'inpaint_telea'
]

SAMPLING_MODES = ('nearest', 'bilinear')
_LITTLE_ENDIAN = sys.byteorder == 'little'


def nearest_taps(dst: Tensor, src_len: Tensor, dst_len: int) -> Tensor:
    """Source index of nearest-neighbour resizing ``src_len -> dst_len``.

    Args:
        dst (Tensor): int64 output positions.
        src_len (Tensor | int): Source length(s), broadcastable.
        dst_len (int | Tensor): Output length(s).

    Returns:
        Tensor: int64 ``min(floor(dst * src_len / dst_len), src_len - 1)``.
    """
    idx = torch.div(dst * src_len, dst_len, rounding_mode='floor')
    return torch.minimum(idx, torch.as_tensor(src_len) - 1)


def linear_taps(dst: Tensor, src_len,
                dst_len) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Two-tap bilinear sampling ``src_len -> dst_len`` in integers.

    The sample position of output ``d`` is
    ``(d + 0.5) * src_len / dst_len - 0.5 = num / den`` with
    ``num = (2 d + 1) * src_len - dst_len`` and ``den = 2 * dst_len``;
    negative positions clamp to 0 and positions past the last pixel to it.

    Args:
        dst (Tensor): int64 output positions.
        src_len (Tensor | int): Source length(s), broadcastable.
        dst_len (Tensor | int): Output length(s), broadcastable.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``i0``, ``i1`` (source
        indices), ``w1`` (integer weight of ``i1``; ``i0`` weighs
        ``den - w1``) and ``den``.
    """
    src_len = torch.as_tensor(src_len, device=dst.device)
    den = torch.as_tensor(2 * dst_len, device=dst.device)
    num = (2 * dst + 1) * src_len - torch.as_tensor(dst_len, device=dst.device)
    num = num.clamp(min=0)
    i0 = torch.div(num, den, rounding_mode='floor')
    w1 = num - i0 * den
    last = src_len - 1
    past = i0 >= last
    i0 = torch.where(past, last, i0)
    w1 = torch.where(past, torch.zeros_like(w1), w1)
    i1 = torch.minimum(i0 + 1, last)
    return i0, i1, w1, den


class _Scratch(threading.local):
    """Per-thread reusable buffers of the crops, grown on demand.

    Fresh multi-megabyte tensors cost page faults on every step on CPU
    (several times the arithmetic done in them), so the gathers and index
    computations write into these instead. Nothing is kept in them
    between calls.
    """

    def __init__(self) -> None:
        self.buffers: Dict[Tuple[str, torch.dtype, torch.device],
                           Tensor] = {}

    def get(self, name: str, count: int, dtype: torch.dtype,
            device: torch.device) -> Tensor:
        """A buffer of at least ``count`` elements (its first ``count``).

        Args:
            name (str): Role of the buffer (distinct roles never alias).
            count (int): Number of elements needed.
            dtype (torch.dtype): Element type.
            device (torch.device): Device.

        Returns:
            Tensor: ``(count,)`` uninitialised view.
        """
        key = (name, dtype, torch.device(device))
        buf = self.buffers.get(key)
        if buf is None or buf.numel() < count:
            buf = torch.empty(count, dtype=dtype, device=device)
            self.buffers[key] = buf
        return buf[:count]


_SCRATCH = _Scratch()


def _window_pixels(packed: PackedMasks, windows: Tensor, taps: Tensor,
                   dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """Flat pixel indices of a per-window grid of taps.

    Item k reads the pixels ``(y0 + taps[k, r], x0 + taps[k, c])`` of its
    window ``[x0, y0, side]`` (the same taps on both axes, the windows
    being square). Coordinates outside the image are clamped and flagged
    in ``valid``.

    Args:
        packed (PackedMasks): The image's packed masks.
        windows (Tensor): ``(K, 3)`` int64 windows on ``packed.device``.
        taps (Tensor): ``(K, T)`` int64 offsets inside the windows.
        dtype (torch.dtype): Index dtype (int32 where it cannot overflow:
            cheaper to build and to gather with).

    Returns:
        tuple[Tensor, Tensor]: ``(K, T, T)`` pixel indices ``y W + x`` (a
        scratch buffer) and the ``(K, T, T)`` uint8 0/1 mask of in-image
        taps (uint8: broadcast bitwise ops on bool are not vectorised).
    """
    h, w = packed.height, packed.width
    k, t = taps.shape
    gy = windows[:, 1:2] + taps
    gx = windows[:, 0:1] + taps
    valid_y = ((gy >= 0) & (gy < h)).to(torch.uint8)
    valid_x = ((gx >= 0) & (gx < w)).to(torch.uint8)
    valid = valid_y[:, :, None] & valid_x[:, None, :]
    pixels = _SCRATCH.get('pixels', k * t * t, dtype,
                          packed.device).view(k, t, t)
    torch.add((gy.clamp(0, h - 1) * w).to(dtype)[:, :, None],
              gx.clamp(0, w - 1).to(dtype)[:, None, :],
              out=pixels)
    return pixels, valid


def _selector_bytes(selectors: Tensor) -> Tuple[Tensor, Tensor]:
    """Split object sets into the bytes of the packed planes they test.

    Byte ``b`` of word ``w`` of a pixel's packed value holds objects
    ``63 w + 8 b .. 63 w + 8 b + 7``; it is byte ``8 w + b`` of the pixel
    (``b`` counted from the least significant byte).

    Args:
        selectors (Tensor): ``(K, num_words)`` int64 object sets.

    Returns:
        tuple[Tensor, Tensor]: ``(R, K)`` int64 byte slot ``8 w + b`` and
        ``(R, K)`` uint8 bit mask of each item's r-th non-zero selector
        byte (mask 0 past an item's last one); ``R`` is the largest number
        of non-zero bytes of an item.
    """
    k = selectors.shape[0]
    shifts = torch.arange(0, 64, 8, device=selectors.device)
    parts = ((selectors[:, :, None] >> shifts) & 255).reshape(k, -1)
    nonzero = parts != 0
    rounds = int(nonzero.sum(1).max()) if k else 0
    # Stable sort puts each item's non-zero slots first, in slot order.
    order = torch.sort((~nonzero).to(torch.uint8), dim=1, stable=True)[1]
    slots = order[:, :rounds].T.contiguous()
    masks = torch.gather(parts, 1, order[:, :rounds]).T.to(torch.uint8)
    return slots, masks


def _single_objects(slots: Tensor, masks: Tensor) -> Optional[Tensor]:
    """The object of each selector, when every set has at most one.

    Args:
        slots (Tensor): ``(R, K)`` byte slots (:func:`_selector_bytes`).
        masks (Tensor): ``(R, K)`` uint8 byte masks.

    Returns:
        Tensor | None: ``(K,)`` int64 object index (-1 for an empty set),
        or None when some set has two or more objects.
    """
    if slots.shape[0] != 1:
        return None
    mask = masks[0].long()
    if bool(((mask & (mask - 1)) != 0).any()):
        return None
    # frexp of 2**b gives exponent b + 1 (exact).
    bit = torch.frexp(mask.double())[1].long() - 1
    slot = slots[0]
    objects = (slot // 8) * BITS_PER_WORD + (slot % 8) * 8 + bit
    return torch.where(mask > 0, objects, torch.full_like(objects, -1))


def _selected(packed: PackedMasks, pixels: Tensor, valid: Tensor,
              selectors: Tensor, out: Tensor) -> Tensor:
    """Union membership at gathered taps.

    Sets of single objects read the bool masks (when ``packed`` keeps
    them), one byte per tap; other sets read, per tap, the bytes of the
    packed planes that their selector tests (one round per non-zero
    selector byte), or the whole int64 words when the sets span many
    bytes.

    Args:
        packed (PackedMasks): The image's packed masks.
        pixels (Tensor): ``(K, T, T)`` pixel indices
            (:func:`_window_pixels`).
        valid (Tensor): ``(K, T, T)`` uint8 0/1 in-image taps.
        selectors (Tensor): ``(K, num_words)`` int64 object sets.
        out (Tensor): ``(K, T, T)`` contiguous uint8 output.

    Returns:
        Tensor: ``out``: 1 where a selected object covers the tap, else 0.
    """
    shape, count = pixels.shape, pixels.numel()
    device = packed.device
    plane_size = packed.height * packed.width
    slots, masks = _selector_bytes(selectors)
    index = _SCRATCH.get('index', count, pixels.dtype, device).view(shape)
    objects = None
    if packed.masks is not None:
        objects = _single_objects(slots, masks)
    if objects is not None:
        flat = packed.masks.view(torch.uint8).view(-1)
        offset = (objects.clamp(min=0) * plane_size).to(pixels.dtype)
        torch.add(pixels, offset[:, None, None], out=index)
        torch.index_select(flat, 0, index.view(-1), out=out.view(-1))
        out &= valid
        if bool((objects < 0).any()):
            out &= (objects >= 0).to(torch.uint8)[:, None, None]
        return out
    used = (selectors != 0).any(0).tolist()
    words = [w for w, flag in enumerate(used) if flag]
    out.zero_()
    if len(slots) <= 2 * len(words):
        planes = packed.byte_planes()
        value = _SCRATCH.get('bytes', count, torch.uint8, device).view(shape)
        for slot, mask in zip(slots, masks):
            byte = slot % 8 if _LITTLE_ENDIAN else 7 - slot % 8
            offset = ((slot // 8) * (plane_size * 8) + byte).to(pixels.dtype)
            torch.add(offset[:, None, None], pixels, alpha=8, out=index)
            torch.index_select(planes, 0, index.view(-1), out=value.view(-1))
            value &= mask[:, None, None]
            out |= value
    else:
        flat = packed.words.view(-1)
        value = _SCRATCH.get('words', count, torch.long, device).view(shape)
        for word in words:
            torch.add(pixels, word * plane_size, out=index)
            torch.index_select(flat, 0, index.view(-1), out=value.view(-1))
            value &= selectors[:, word, None, None]
            out |= value.bool().view(torch.uint8)
    torch.clamp_max(out, 1, out=out)
    out &= valid
    return out


def _bilinear_threshold(taps: Tensor, w1: Tensor, den: int) -> Tensor:
    """``> 0.5`` of the bilinear resampling of binary tap values (exact).

    ``taps`` holds, per item, the values at the rows ``[i0 | i1]`` and
    columns ``[i0 | i1]`` of :func:`linear_taps`. Where the four taps of a
    pixel agree the result is that value (the weights sum to ``den^2``);
    only the other pixels are evaluated, as
    ``2 * sum(w_y * w_x * m) > den^2`` in int64.

    Args:
        taps (Tensor): ``(K, 2S, 2S)`` uint8 0/1 tap values.
        w1 (Tensor): ``(K, S)`` int64 weights of ``i1`` (``i0`` weighs
            ``den - w1``), the same on both axes.
        den (int): Weight denominator ``2 S``.

    Returns:
        Tensor: ``(K, S, S)`` bool.
    """
    size = taps.shape[-1] // 2
    top, bottom = taps[:, :size], taps[:, size:]
    rows_all, rows_any = top & bottom, top | bottom
    out = rows_all[:, :, :size] & rows_all[:, :, size:]
    mixed = (rows_any[:, :, :size] | rows_any[:, :, size:]) ^ out
    out = out.view(torch.bool)
    item, row, col = torch.nonzero(mixed.view(torch.bool), as_tuple=True)
    if item.numel():
        t00, t01 = taps[item, row, col], taps[item, row, col + size]
        t10 = taps[item, row + size, col]
        t11 = taps[item, row + size, col + size]
        wy1, wx1 = w1[item, row], w1[item, col]
        wy0, wx0 = den - wy1, den - wx1
        value = (wy0 * (wx0 * t00 + wx1 * t01) + wy1 * (wx0 * t10 + wx1 * t11))
        out[item, row, col] = 2 * value > den * den
    return out


def crop_unions(packed: PackedMasks,
                windows: Tensor,
                selector_sets: Sequence[Tensor],
                size: int = 256,
                mode: str = 'nearest',
                pixel_chunk: int = DEFAULT_PIXEL_CHUNK) -> List[Tensor]:
    """Crop several unions per window, sharing the taps of each window.

    ``crop_unions(packed, windows, [a, b])`` equals
    ``[crop_union(packed, windows, a), crop_union(packed, windows, b)]``:
    the taps' pixel indices are computed once per window; sets of single
    objects read the bool masks kept by ``packed`` (one byte per tap),
    other sets the bytes (or words) of the packed planes that they test.

    Args:
        packed (PackedMasks): The image's packed masks.
        windows (Tensor): ``(K, 3)`` int64 ``[x0, y0, side]``.
        selector_sets (Sequence[Tensor]): ``(K, num_words)`` int64 object
            sets, one crop per set and window.
        size (int): Output side ``S``.
        mode (str): ``'nearest'`` or ``'bilinear'`` (see
            :func:`crop_union`).
        pixel_chunk (int): Gathered taps per vectorised step (windows are
            processed in groups of about ``pixel_chunk / (taps per
            window)``).

    Returns:
        list[Tensor]: ``(K, S, S)`` bool per selector set, on
        ``packed.device``.
    """
    check_choice('mode', mode, SAMPLING_MODES)
    device = packed.device
    windows = windows.to(device, torch.long)
    selector_sets = [sel.to(device, torch.long) for sel in selector_sets]
    k = windows.shape[0]
    outs = [
        torch.zeros((k, size, size), dtype=torch.bool, device=device)
        for _ in selector_sets
    ]
    if k == 0 or not selector_sets:
        return outs
    d = torch.arange(size, device=device)[None]
    side = windows[:, 2:3]
    if mode == 'nearest':
        taps = nearest_taps(d, side, size)
        w1 = None
    else:
        i0, i1, w1, _ = linear_taps(d, side, size)
        taps = torch.cat([i0, i1], 1)
    step = max(1, pixel_chunk // (taps.shape[1]**2))
    # Largest flat index: a byte of the packed planes or of the masks.
    largest = 8 * packed.num_words * packed.height * packed.width
    if packed.masks is not None:
        largest = max(largest, packed.masks.numel())
    index_dtype = torch.int32 if largest < 2**31 else torch.long
    for start in range(0, k, step):
        stop = min(k, start + step)
        pixels, valid = _window_pixels(packed, windows[start:stop],
                                       taps[start:stop], index_dtype)
        for out, sel in zip(outs, selector_sets):
            if w1 is None:
                _selected(packed, pixels, valid, sel[start:stop],
                          out[start:stop].view(torch.uint8))
                continue
            hit = _SCRATCH.get('taps', pixels.numel(), torch.uint8,
                               device).view(pixels.shape)
            _selected(packed, pixels, valid, sel[start:stop], hit)
            out[start:stop] = _bilinear_threshold(hit, w1[start:stop],
                                                  2 * size)
    return outs


def crop_union(packed: PackedMasks,
               windows: Tensor,
               selectors: Tensor,
               size: int = 256,
               mode: str = 'nearest') -> Tensor:
    """Crop unions of objects in square windows and resize to ``size``.

    Args:
        packed (PackedMasks): The image's packed masks.
        windows (Tensor): ``(K, 3)`` int64 ``[x0, y0, side]``
            (:func:`mmdeocc.structures.integer_crop_boxes`).
        selectors (Tensor): ``(K, num_words)`` int64 object sets; item k
            crops the union of the objects of ``selectors[k]``.
        size (int): Output side ``S``.
        mode (str): ``'nearest'`` (ordering) or ``'bilinear'`` (bilinear
            then ``> 0.5``, amodal completion).

    Returns:
        Tensor: ``(K, S, S)`` bool on ``packed.device``.
    """
    return crop_unions(packed, windows, [selectors], size, mode)[0]


def dilate_square(masks: Tensor, kernel: int) -> Tensor:
    """Binary dilation with a ``kernel x kernel`` square (``cv2.dilate``).

    The anchor is the kernel centre ``kernel // 2`` as in OpenCV, so an even
    kernel reaches one pixel further up/left than down/right; pixels outside
    the patch do not contribute.

    Args:
        masks (Tensor): ``(K, S, S)`` bool.
        kernel (int): Kernel side; 0 or 1 returns the input.

    Returns:
        Tensor: ``(K, S, S)`` bool.
    """
    if kernel <= 1 or masks.numel() == 0:
        return masks
    before = kernel // 2
    after = kernel - 1 - before
    padded = F.pad(masks[:, None].float(), (before, after, before, after))
    return F.max_pool2d(padded, kernel, stride=1)[:, 0] > 0.5


def _clipped_rects(windows: np.ndarray, height: int, width: int) -> np.ndarray:
    """Window rectangles clipped to the image: ``(K, 4)`` ya, yb, xa, xb."""
    x0, y0, side = windows[:, 0], windows[:, 1], windows[:, 2]
    return np.stack([
        np.clip(y0, 0, height),
        np.clip(y0 + side, 0, height),
        np.clip(x0, 0, width),
        np.clip(x0 + side, 0, width)
    ], 1)


def _restrict_to_support(rects: np.ndarray, windows: np.ndarray,
                         patches: Tensor) -> np.ndarray:
    """Shrink pasting rectangles to where the upsampled patch can be 1.

    Output pixel ``d`` of a window of side ``s`` samples patch rows
    ``floor(p)`` and ``floor(p) + 1`` at ``p = (d + 0.5) S / s - 0.5``; if
    the patch's non-zero rows are ``[r0, r1]``, only ``d`` with
    ``r0 - 1 < p < r1 + 1`` can be non-zero, i.e.
    ``(r0 - 0.5) s / S - 0.5 < d < (r1 + 1.5) s / S - 0.5``. The bounds
    below are a pixel wider than that (and empty patches get empty
    rectangles).

    Args:
        rects (np.ndarray): ``(K, 4)`` clipped rectangles ``ya, yb, xa, xb``.
        windows (np.ndarray): ``(K, 3)`` windows ``[x0, y0, side]``.
        patches (Tensor): ``(K, S, S)`` bool patches.

    Returns:
        np.ndarray: ``(K, 4)`` restricted rectangles (``yb <= ya`` if empty).
    """
    size = patches.shape[-1]
    as_bytes = patches.view(torch.uint8)
    rows = (as_bytes.amax(2) != 0).cpu().numpy()
    cols = (as_bytes.amax(1) != 0).cpu().numpy()
    out = rects.copy()
    side = windows[:, 2]
    axes = ((rows, windows[:, 1]), (cols, windows[:, 0]))
    for axis, (lines, origin) in enumerate(axes):
        nonempty = lines.any(1)
        first = lines.argmax(1)
        last = size - 1 - lines[:, ::-1].argmax(1)
        lo = origin + (first - 1) * side // size - 1
        hi = origin + -(-(last + 2) * side // size) + 1
        out[:, 2 * axis] = np.maximum(out[:, 2 * axis], lo)
        out[:, 2 * axis + 1] = np.minimum(out[:, 2 * axis + 1], hi)
        out[~nonempty, 2 * axis + 1] = out[~nonempty, 2 * axis]
    return out


def _cell_classes(patches: Tensor) -> Tuple[Tensor, Tensor]:
    """Which 2x2 patch cells are all ones, and which are mixed.

    Cell ``(a, b)`` is the block of rows ``a, min(a + 1, S - 1)`` and
    columns ``b, min(b + 1, S - 1)``: every tap pair of :func:`linear_taps`
    with ``i0 = a`` (rows) and ``i0 = b`` (columns) lies in it.

    Args:
        patches (Tensor): ``(K, S, S)`` bool.

    Returns:
        tuple[Tensor, Tensor]: ``(K, S, S)`` bool ``full`` (all four ones)
        and ``mixed`` (neither all ones nor all zeros).
    """
    cells = patches.view(torch.uint8)
    down = torch.cat([cells[:, 1:], cells[:, -1:]], 1)
    down_and, down_or = cells & down, cells | down
    full = down_and & torch.cat([down_and[:, :, 1:], down_and[:, :, -1:]], 2)
    anything = down_or | torch.cat([down_or[:, :, 1:], down_or[:, :, -1:]],
                                   2)
    return full.view(torch.bool), (anything ^ full).view(torch.bool)


def _rect_taps(starts: np.ndarray, stops: np.ndarray, origins: np.ndarray,
               sides: np.ndarray, size: int,
               device: torch.device) -> Tuple[Tensor, ...]:
    """Bilinear taps of the pasted rows (or columns) of all patches.

    Patch k covers image lines ``starts[k] .. stops[k] - 1``; they are
    concatenated patch after patch.

    Args:
        starts (np.ndarray): ``(K,)`` first line of each rectangle.
        stops (np.ndarray): ``(K,)`` end of each rectangle (``<= start``
            when empty).
        origins (np.ndarray): ``(K,)`` window origins ``y0`` (or ``x0``).
        sides (np.ndarray): ``(K,)`` window sides.
        size (int): Patch side ``S``.
        device (torch.device): Device of the taps.

    Returns:
        tuple[Tensor, ...]: Per concatenated line: image coordinate,
        ``i0``, ``i1``, ``w1``, ``den`` (int64) and the search key
        ``patch * S + i0`` (non-decreasing); plus ``(K + 1,)`` offsets of
        each patch's lines.
    """
    lengths = np.maximum(stops - starts, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    patch = np.repeat(np.arange(len(lengths)), lengths)
    coord = np.arange(offsets[-1]) - offsets[patch] + starts[patch]
    coord_t = torch.as_tensor(coord, device=device)
    patch_t = torch.as_tensor(patch, device=device)
    side_t = torch.as_tensor(sides[patch], device=device)
    origin_t = torch.as_tensor(origins[patch], device=device)
    i0, i1, w1, den = linear_taps(coord_t - origin_t, size, side_t)
    return (coord_t, i0, i1, w1, den.expand_as(i0), patch_t * size + i0,
            offsets)


def _paste_mixed(cells: Tuple[Tensor, Tensor, Tensor], row_taps, col_taps,
                 patches: Tensor, out_flat: Tensor, width: int,
                 obj_index: Tensor, packed: Optional[PackedMasks],
                 allowed: Optional[Tensor], pixel_chunk: int) -> None:
    """Evaluate and paste the window pixels of mixed cells.

    Args:
        cells (tuple[Tensor, Tensor, Tensor]): ``(patch, a, b)`` of the
            mixed cells.
        row_taps (tuple): :func:`_rect_taps` of the rows.
        col_taps (tuple): :func:`_rect_taps` of the columns.
        patches (Tensor): ``(K, S, S)`` bool patches.
        out_flat (Tensor): ``(N, H * W)`` bool output view.
        width (int): Image width ``W``.
        obj_index (Tensor): ``(K,)`` output row of each patch.
        packed (PackedMasks, optional): For ``allowed``.
        allowed (Tensor, optional): ``(K, num_words)`` selectors.
        pixel_chunk (int): Window pixels evaluated per step.
    """
    patch, a, b = cells
    if patch.numel() == 0:
        return
    size = patches.shape[-1]
    r_coord, r_i0, r_i1, r_w1, r_den, r_key, _ = row_taps
    c_coord, c_i0, c_i1, c_w1, _, c_key, _ = col_taps
    # The window pixels of a cell: rows with i0 == a times columns with
    # i0 == b (contiguous runs, the taps being monotonic).
    r_lo = torch.searchsorted(r_key, patch * size + a)
    r_n = torch.searchsorted(r_key, patch * size + a, right=True) - r_lo
    c_lo = torch.searchsorted(c_key, patch * size + b)
    c_n = torch.searchsorted(c_key, patch * size + b, right=True) - c_lo
    total = r_n * c_n
    keep = total > 0
    patch, r_lo, r_n, c_lo, c_n, total = (
        v[keep] for v in (patch, r_lo, r_n, c_lo, c_n, total))
    ends = torch.cumsum(total, 0)
    ends_list = ends.tolist()
    if not ends_list:
        return
    flat_patches = patches.reshape(-1).view(torch.uint8)
    # 2 * value reaches 8 side^2: int32 is exact below side 16383.
    dtype = torch.int32 if int(r_den.max()) < 32000 else torch.long
    start = 0
    while start < len(ends_list):
        base = ends_list[start - 1] if start else 0
        stop = int(np.searchsorted(ends_list, base + pixel_chunk, 'right'))
        stop = max(stop, start + 1)
        count = ends_list[stop - 1] - base
        cell = torch.repeat_interleave(
            torch.arange(start, stop, device=patch.device),
            total[start:stop],
            output_size=count)
        offset = (torch.arange(count, device=patch.device) -
                  (ends[cell] - total[cell] - base))
        rows = r_lo[cell] + torch.div(
            offset, c_n[cell], rounding_mode='floor')
        cols = c_lo[cell] + offset % c_n[cell]
        item = patch[cell]
        top = item * (size * size)
        i0r, i1r = top + r_i0[rows] * size, top + r_i1[rows] * size
        i0c, i1c = c_i0[cols], c_i1[cols]
        wy1, wx1 = r_w1[rows].to(dtype), c_w1[cols].to(dtype)
        den = r_den[rows].to(dtype)
        wy0, wx0 = den - wy1, den - wx1
        value = (
            wy0 * (wx0 * flat_patches[i0r + i0c] +
                   wx1 * flat_patches[i0r + i1c]) + wy1 *
            (wx0 * flat_patches[i1r + i0c] + wx1 * flat_patches[i1r + i1c]))
        hit = 2 * value > den * den
        ys, xs, item = r_coord[rows][hit], c_coord[cols][hit], item[hit]
        if allowed is not None:
            inside = packed.lookup(ys, xs, allowed[item])
            ys, xs, item = ys[inside], xs[inside], item[inside]
        out_flat[obj_index[item], ys * width + xs] = True
        start = stop


def paste_patches(patches: Tensor,
                  windows: Tensor,
                  out: Tensor,
                  obj_index: Tensor,
                  packed: Optional[PackedMasks] = None,
                  allowed: Optional[Tensor] = None,
                  pixel_chunk: int = DEFAULT_PIXEL_CHUNK) -> None:
    """Paste binary ``S x S`` patches back into full-image masks (in place).

    Each patch is resized to its window's ``side x side`` bilinearly
    (half-pixel centres, exact integer arithmetic), thresholded at
    ``> 0.5``, placed at ``(x0, y0)`` and clipped to the image.

    Every window pixel reads the 2 x 2 patch cell of its ``i0`` taps: where
    the cell is all ones (zeros) the pixel is 1 (0) whatever the weights,
    so those pixels are a nearest-cell upsampling of the cells' classes,
    written into the output with integer slicing, one rectangle per
    patch; only the pixels of mixed cells (along the patch's edges) are
    evaluated, as ``2 * sum(w_y * w_x * p) > den^2``, in chunks of
    ``pixel_chunk``.

    Args:
        patches (Tensor): ``(K, S, S)`` bool patches (e.g. probability
            ``> amodal_th``).
        windows (Tensor): ``(K, 3)`` int64 ``[x0, y0, side]``.
        out (Tensor): ``(N, H, W)`` bool contiguous output, set where the
            pasted value is 1 (pixels are only ever set, never cleared).
        obj_index (Tensor): ``(K,)`` int64 row of ``out`` for each patch.
        packed (PackedMasks, optional): Packed masks for ``allowed``.
        allowed (Tensor, optional): ``(K, num_words)`` selectors; when given,
            only pixels covered by one of the selected objects are kept.
        pixel_chunk (int): Mixed-cell pixels evaluated per vectorised step.
    """
    k = patches.shape[0]
    if k == 0:
        return
    device = out.device
    size = patches.shape[-1]
    height, width = out.shape[-2:]
    windows_np = windows.cpu().numpy().astype(np.int64)
    patches = patches.to(device).contiguous()
    rects = _clipped_rects(windows_np, height, width)
    rects = _restrict_to_support(rects, windows_np, patches)
    obj_index = obj_index.to(device, torch.long)
    if allowed is not None:
        allowed = allowed.to(device)
    sides = windows_np[:, 2]
    row_taps = _rect_taps(rects[:, 0], rects[:, 1], windows_np[:, 1], sides,
                          size, device)
    col_taps = _rect_taps(rects[:, 2], rects[:, 3], windows_np[:, 0], sides,
                          size, device)
    full, mixed = _cell_classes(patches)
    r_i0, r_off = row_taps[1], row_taps[6]
    c_i0, c_off = col_taps[1], col_taps[6]
    objs = obj_index.tolist()
    # uint8 views: bitwise ops on strided bool tensors are not vectorised.
    out_bytes = out.view(torch.uint8)
    full = full.view(torch.uint8)
    for item, (ya, yb, xa, xb) in enumerate(rects.tolist()):
        if yb <= ya or xb <= xa:
            continue
        # Columns first (per element, S x w), then rows (row copies).
        block = full[item].index_select(
            1, c_i0[c_off[item]:c_off[item + 1]]).index_select(
                0, r_i0[r_off[item]:r_off[item + 1]])
        if allowed is not None:
            block &= packed.rect_union(allowed[item], ya, yb, xa,
                                       xb).view(torch.uint8)
        out_bytes[objs[item], ya:yb, xa:xb] |= block
    # Mixed cells of empty rectangles have no pixels (empty runs).
    _paste_mixed(
        torch.nonzero(mixed, as_tuple=True), row_taps, col_taps, patches,
        out.view(out.shape[0], -1), width, obj_index, packed, allowed,
        pixel_chunk)


#: ImageNet statistics of RGB in [0, 255] (the PCNet-C input space).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0
INTERPOLATIONS = {'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC}


def _interpolation(name: str) -> int:
    check_choice('interpolation', name, sorted(INTERPOLATIONS))
    return INTERPOLATIONS[name]


def crop_resize_image(image: np.ndarray,
                      window: Sequence[int],
                      size: int,
                      flip: bool = False,
                      interpolation: str = 'bicubic') -> np.ndarray:
    """Crop a square window of an image (zero outside it) and resize it.

    One affine resampling (``cv2.warpAffine``), so the cost is ``O(size^2)``
    whatever the window side: output pixel ``(u, v)`` samples the image at
    ``(x0 + (u + 0.5) * side / size - 0.5, y0 + (v + 0.5) * side / size -
    0.5)``; taps outside the image read 0. No anti-aliasing (as
    ``cv2.resize`` with the same interpolation).

    Args:
        image (np.ndarray): ``(H, W, C)`` (or ``(H, W)``) uint8 or float32.
        window (Sequence[int]): ``(x0, y0, side)`` in image pixels (may
            extend outside the image).
        size (int): Output side ``S``.
        flip (bool): Mirror the output horizontally.
        interpolation (str): ``'bicubic'`` or ``'bilinear'``.

    Returns:
        np.ndarray: ``(S, S, C)`` array of the input's dtype.
    """
    x0, y0, side = (int(v) for v in window[:3])
    if side < 1:
        raise ValueError(f'crop window side must be >= 1, got {side}')
    scale = side / float(size)
    matrix = np.array([[scale, 0.0, x0 + 0.5 * scale - 0.5],
                       [0.0, scale, y0 + 0.5 * scale - 0.5]], np.float64)
    out = cv2.warpAffine(
        image, matrix, (size, size),
        flags=_interpolation(interpolation) | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if out.ndim == 2 and image.ndim == 3:
        out = out[..., None]
    if flip:
        out = np.ascontiguousarray(out[:, ::-1])
    return out


def paste_resize_image(patch: np.ndarray, window: Sequence[int],
                       height: int, width: int,
                       interpolation: str = 'bicubic'
                       ) -> Tuple[np.ndarray, Tuple[int, int, int, int]]:
    """Resize an ``S x S`` patch back to its window, clipped to the image.

    The inverse mapping of :func:`crop_resize_image`: image pixel ``x`` of
    the window reads the patch at ``(x - x0 + 0.5) * S / side - 0.5``
    (border replicated inside the patch).

    Args:
        patch (np.ndarray): ``(S, S, C)`` float32 (or uint8) patch.
        window (Sequence[int]): ``(x0, y0, side)``.
        height (int): Image height.
        width (int): Image width.
        interpolation (str): ``'bicubic'`` or ``'bilinear'``.

    Returns:
        tuple: The resized region ``(yb - ya, xb - xa, C)`` and its image
        rectangle ``(ya, yb, xa, xb)`` (empty when the window misses the
        image).
    """
    x0, y0, side = (int(v) for v in window[:3])
    size = patch.shape[0]
    ya, yb = max(y0, 0), min(y0 + side, height)
    xa, xb = max(x0, 0), min(x0 + side, width)
    channels = patch.shape[2] if patch.ndim == 3 else 1
    if yb <= ya or xb <= xa:
        return np.zeros((0, 0, channels), patch.dtype), (ya, ya, xa, xa)
    scale = size / float(side)
    matrix = np.array([[scale, 0.0, (xa - x0 + 0.5) * scale - 0.5],
                       [0.0, scale, (ya - y0 + 0.5) * scale - 0.5]],
                      np.float64)
    out = cv2.warpAffine(
        patch, matrix, (xb - xa, yb - ya),
        flags=_interpolation(interpolation) | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[..., None]
    return out, (ya, yb, xa, xb)


def normalize_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(rgb - mean) / std`` with the ImageNet statistics.

    Args:
        rgb (np.ndarray): ``(..., 3)`` RGB in [0, 255].

    Returns:
        np.ndarray: float32, same shape.
    """
    return (rgb.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD


def denormalize_rgb(rgb_norm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_rgb` (float32, not clipped)."""
    return rgb_norm.astype(np.float32) * IMAGENET_STD + IMAGENET_MEAN


def inpaint_telea(image: np.ndarray, hole: np.ndarray,
                  radius: int = 3) -> np.ndarray:
    """Fill ``hole`` of an image with OpenCV's Telea inpainting.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8.
        hole (np.ndarray): ``(H, W)`` bool pixels to fill.
        radius (int): Neighbourhood radius of the method.

    Returns:
        np.ndarray: A new image, equal to ``image`` outside ``hole``.
    """
    if not hole.any():
        return image.copy()
    return cv2.inpaint(image, hole.astype(np.uint8), radius,
                       cv2.INPAINT_TELEA)
