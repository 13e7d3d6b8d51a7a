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
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmdeocc.utils.validation import check_choice
from .packed_masks import DEFAULT_PIXEL_CHUNK, PackedMasks

__all__ = [
    'SAMPLING_MODES', 'nearest_taps', 'linear_taps', 'crop_union',
    'dilate_square', 'paste_patches', 'IMAGENET_MEAN', 'IMAGENET_STD',
    'INTERPOLATIONS', 'crop_resize_image', 'paste_resize_image',
    'normalize_rgb', 'denormalize_rgb'
]

SAMPLING_MODES = ('nearest', 'bilinear')


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
    check_choice('mode', mode, SAMPLING_MODES)
    device = packed.device
    windows = windows.to(device, torch.long)
    selectors = selectors.to(device)
    k = windows.shape[0]
    if k == 0:
        return torch.zeros((0, size, size), dtype=torch.bool, device=device)
    x0, y0, side = (windows[:, c:c + 1] for c in range(3))
    d = torch.arange(size, device=device)[None]
    h, w = packed.height, packed.width
    sel = selectors[:, None, None, :]

    def sample(iy: Tensor, ix: Tensor) -> Tensor:
        """Union membership at window pixels ``(iy, ix)``, zero outside."""
        gy, gx = y0 + iy, x0 + ix
        vy = (gy >= 0) & (gy < h)
        vx = (gx >= 0) & (gx < w)
        hit = packed.lookup(
            gy.clamp(0, h - 1)[:, :, None],
            gx.clamp(0, w - 1)[:, None, :], sel)
        return hit & vy[:, :, None] & vx[:, None, :]

    if mode == 'nearest':
        idx = nearest_taps(d, side, size)
        return sample(idx, idx)
    y_i0, y_i1, y_w1, den = linear_taps(d, side, size)
    y_w0 = den - y_w1
    acc = torch.zeros((k, size, size), dtype=torch.int32, device=device)
    for iy, wy in ((y_i0, y_w0), (y_i1, y_w1)):
        for ix, wx in ((y_i0, y_w0), (y_i1, y_w1)):
            weight = (wy[:, :, None] * wx[:, None, :]).int()
            acc += weight * sample(iy, ix)
    return 2 * acc > (2 * size) * (2 * size)


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
    rows = patches.any(2).cpu().numpy()
    cols = patches.any(1).cpu().numpy()
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


def _size_chunks(heights: np.ndarray, widths: np.ndarray,
                 pixel_chunk: int) -> Iterator[np.ndarray]:
    """Group items, sorted by size, so that ``count * max_h * max_w`` stays
    within ``pixel_chunk`` (an item larger than that is alone).

    Yields:
        np.ndarray: Item indices of one chunk.
    """
    order = np.lexsort((widths, heights))
    chunk: List[int] = []
    max_h = max_w = 0
    for item in order.tolist():
        h, w = int(heights[item]), int(widths[item])
        if h <= 0 or w <= 0:
            continue
        new_h, new_w = max(max_h, h), max(max_w, w)
        if chunk and (len(chunk) + 1) * new_h * new_w > pixel_chunk:
            yield np.asarray(chunk)
            chunk, new_h, new_w = [], h, w
        chunk.append(item)
        max_h, max_w = new_h, new_w
    if chunk:
        yield np.asarray(chunk)


def _gather_rows(images: Tensor, rows: Tensor) -> Tensor:
    """``images[c, rows[c, r], :]`` -> ``(C, R, W)``."""
    return torch.gather(images, 1, rows[:, :,
                                        None].expand(-1, -1, images.shape[2]))


def _gather_cols(images: Tensor, cols: Tensor) -> Tensor:
    """``images[c, :, cols[c, j]]`` -> ``(C, H, J)``."""
    return torch.gather(images, 2,
                        cols[:, None, :].expand(-1, images.shape[1], -1))


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
    ``> 0.5``, placed at ``(x0, y0)`` and clipped to the image. Only the
    clipped window pixels are computed, separably (rows, then columns), for
    chunks of similar-sized windows padded to a common size of at most
    ``pixel_chunk`` pixels.

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
        pixel_chunk (int): Padded window pixels per vectorised step.
    """
    k = patches.shape[0]
    if k == 0:
        return
    device = out.device
    size = patches.shape[-1]
    height, width = out.shape[-2:]
    windows_np = windows.cpu().numpy().astype(np.int64)
    rects = _clipped_rects(windows_np, height, width)
    rects = _restrict_to_support(rects, windows_np, patches)
    windows = windows.to(device, torch.long)
    obj_index = obj_index.to(device, torch.long)
    patches = patches.to(device)
    out_flat = out.view(out.shape[0], -1)
    for items_np in _size_chunks(rects[:, 1] - rects[:, 0],
                                 rects[:, 3] - rects[:, 2], pixel_chunk):
        chunk_rects = rects[items_np]
        max_h = int((chunk_rects[:, 1] - chunk_rects[:, 0]).max())
        max_w = int((chunk_rects[:, 3] - chunk_rects[:, 2]).max())
        items = torch.as_tensor(items_np, device=device)
        rect = torch.as_tensor(chunk_rects, device=device)
        x0, y0, side = (windows[items, c:c + 1] for c in range(3))
        rows = rect[:, 0:1] + torch.arange(max_h, device=device)  # (C, h)
        cols = rect[:, 2:3] + torch.arange(max_w, device=device)  # (C, w)
        row_ok = rows < rect[:, 1:2]
        col_ok = cols < rect[:, 3:4]
        # Taps of the rows and columns inside each window.
        y_i0, y_i1, y_w1, den = linear_taps(rows - y0, size, side)
        x_i0, x_i1, x_w1, _ = linear_taps(cols - x0, size, side)
        y_i0, y_i1 = y_i0.clamp(0, size - 1), y_i1.clamp(0, size - 1)
        x_i0, x_i1 = x_i0.clamp(0, size - 1), x_i1.clamp(0, size - 1)
        # 2 * value reaches 8 side^2: int32 is exact below side 16383.
        dtype = torch.int32 if int(side.max()) < 16000 else torch.long
        y_w1, x_w1, den = y_w1.to(dtype), x_w1.to(dtype), den.to(dtype)
        chunk_patches = patches[items].to(dtype)  # (C, S, S)
        # Rows: (C, h, S) = w0 * P[i0, :] + w1 * P[i1, :].
        row_val = (
            (den - y_w1)[:, :, None] * _gather_rows(chunk_patches, y_i0) +
            y_w1[:, :, None] * _gather_rows(chunk_patches, y_i1))
        # Columns: (C, h, w).
        value = ((den - x_w1)[:, None, :] * _gather_cols(row_val, x_i0) +
                 x_w1[:, None, :] * _gather_cols(row_val, x_i1))
        keep = 2 * value > (den * den)[:, :, None]
        keep &= row_ok[:, :, None] & col_ok[:, None, :]
        c_idx, r_idx, col_idx = torch.nonzero(keep, as_tuple=True)
        ys = rows[c_idx, r_idx]
        xs = cols[c_idx, col_idx]
        item = items[c_idx]
        if allowed is not None:
            hit = packed.lookup(ys, xs, allowed.to(device)[item])
            ys, xs, item = ys[hit], xs[hit], item[hit]
        out_flat[obj_index[item], ys * width + xs] = True


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
