"""Bit-packed instance masks: every object of an image in a few int64 planes.

``N`` binary masks of an ``H x W`` image are stored as ``ceil(N / 63)`` int64
planes ``(W, H, W_img)``; bit ``b`` of plane ``w`` is object ``63 * w + b``
(63 bits per word keep every value non-negative). One plane therefore costs
eight bytes per pixel for up to 63 objects, instead of 63 bytes as bool
masks, and the union of any set of objects at any set of pixels is one
gather and one ``&`` per plane. The inference core uses this for

* crops of single objects and of unions of objects (erasers),
* the touch test (a dilated copy of the planes),
* counting, per pair of objects, the pixels of one inside the other.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from .geometry import masks_to_bboxes
from .masks import as_bool_mask_tensor

BITS_PER_WORD = 63

# Pixels handled per vectorised step when enumerating mask pixels; bounds
# the transient memory (about 50 bytes per pixel) of the helpers below.
DEFAULT_PIXEL_CHUNK = 1 << 20

__all__ = [
    'BITS_PER_WORD',
    'DEFAULT_PIXEL_CHUNK',
    'num_words',
    'extract_bits',
    'PackedMasks',
    'enumerate_mask_pixels',
]


def num_words(num_objects: int) -> int:
    """Number of int64 planes needed for ``num_objects`` objects."""
    return max(1, -(-num_objects // BITS_PER_WORD))


def extract_bits(values: Tensor) -> Tuple[Tensor, Tensor]:
    """Positions of the set bits of non-negative int64 values.

    Args:
        values (Tensor): ``(P,)`` int64, each in ``[0, 2**63)``.

    Returns:
        tuple[Tensor, Tensor]: ``rows`` (index into ``values``) and ``bits``
        (bit position, 0..62), one entry per set bit, both int64.
    """
    rows_out, bits_out = [], []
    rows = torch.nonzero(values, as_tuple=True)[0]
    remaining = values[rows]
    while rows.numel() > 0:
        lowest = remaining & (-remaining)
        # frexp of an exact power of two 2**b gives mantissa 0.5, exponent
        # b + 1 (exact for b <= 62 in float64).
        _, exponent = torch.frexp(lowest.double())
        rows_out.append(rows)
        bits_out.append(exponent.long() - 1)
        remaining = remaining ^ lowest
        keep = remaining != 0
        rows, remaining = rows[keep], remaining[keep]
    if not rows_out:
        empty = values.new_zeros(0, dtype=torch.long)
        return empty, empty.clone()
    return torch.cat(rows_out), torch.cat(bits_out)


class PackedMasks:
    """``N`` binary masks of one image as ``ceil(N / 63)`` int64 bit planes.

    Args:
        words (Tensor): ``(num_words, H, W)`` int64 planes.
        num (int): Number of objects ``N``.
        masks (Tensor, optional): The ``(N, H, W)`` bool masks themselves
            (contiguous), kept by :meth:`from_masks` so that crops of
            single objects can read them directly.
    """

    def __init__(self,
                 words: Tensor,
                 num: int,
                 masks: Optional[Tensor] = None) -> None:
        self.words = words
        self.num = int(num)
        self.masks = masks

    @classmethod
    def from_masks(cls,
                   masks: Tensor,
                   pixel_chunk: int = DEFAULT_PIXEL_CHUNK,
                   bboxes: Optional[Tensor] = None) -> 'PackedMasks':
        """Pack a ``(N, H, W)`` bool/{0,1} stack (on its own device).

        Each object's bit is added inside its tight box only (one in-place
        add per object), so the cost is the boxes' area, not ``N x H x W``.

        Args:
            masks (Tensor): ``(N, H, W)`` masks.
            pixel_chunk (int): Unused; kept for compatibility (packing no
                longer enumerates pixels).
            bboxes (Tensor, optional): ``(N, 4)`` tight ``xywh`` boxes of
                the masks (:func:`~mmdeocc.structures.masks_to_bboxes`),
                computed when not given.

        Returns:
            PackedMasks: The packed planes.
        """
        masks = as_bool_mask_tensor(masks)
        n, h, w = masks.shape
        words = torch.zeros((num_words(n), h, w),
                            dtype=torch.long,
                            device=masks.device)
        if bboxes is None:
            bboxes = masks_to_bboxes(masks)
        boxes = bboxes.to('cpu', torch.long).tolist()
        for obj, (x0, y0, bw, bh) in enumerate(boxes):
            if bw <= 0 or bh <= 0:
                continue
            word, bit = divmod(obj, BITS_PER_WORD)
            # Each (object, pixel) is added once, so adding distinct powers
            # of two is a bitwise OR.
            words[word, y0:y0 + bh, x0:x0 + bw].add_(
                masks[obj, y0:y0 + bh, x0:x0 + bw], alpha=1 << bit)
        return cls(words, n, masks if masks.is_contiguous() else None)

    @property
    def num_words(self) -> int:
        """Number of int64 planes."""
        return self.words.shape[0]

    @property
    def height(self) -> int:
        """Image height."""
        return self.words.shape[1]

    @property
    def width(self) -> int:
        """Image width."""
        return self.words.shape[2]

    @property
    def device(self) -> torch.device:
        """Device of the planes."""
        return self.words.device

    def byte_planes(self) -> Tensor:
        """The planes as flat bytes (a view, no copy).

        Returns:
            Tensor: ``(num_words * H * W * 8,)`` uint8; the 8 bytes of the
            value of pixel ``p`` of word ``w`` start at ``8 (w H W + p)``,
            in the machine's byte order.
        """
        if not self.words.is_contiguous():
            self.words = self.words.contiguous()
        return self.words.view(torch.uint8).view(-1)

    def selectors_from_indices(self, index: Tensor) -> Tensor:
        """Selectors of single objects.

        Args:
            index (Tensor): ``(K,)`` object indices.

        Returns:
            Tensor: ``(K, num_words)`` int64 bit selectors.
        """
        index = index.to(self.device, torch.long)
        sel = torch.zeros((index.numel(), self.num_words),
                          dtype=torch.long,
                          device=self.device)
        rows = torch.arange(index.numel(), device=self.device)
        sel[rows, index // BITS_PER_WORD] = (
            torch.ones_like(index) << (index % BITS_PER_WORD))
        return sel

    def selectors_from_members(self, members: Tensor) -> Tensor:
        """Selectors of unions of objects.

        Args:
            members (Tensor): ``(K, N)`` bool, ``members[k, j]`` = object j
                belongs to set k.

        Returns:
            Tensor: ``(K, num_words)`` int64 bit selectors.
        """
        members = members.to(self.device, torch.bool)
        k, n = members.shape
        if n != self.num:
            raise ValueError(f'members: expected {self.num} columns, got {n}')
        padded = members.new_zeros((k, self.num_words * BITS_PER_WORD))
        padded[:, :n] = members
        weights = torch.ones(
            BITS_PER_WORD, dtype=torch.long,
            device=self.device) << torch.arange(
                BITS_PER_WORD, device=self.device)
        return (padded.view(k, self.num_words, BITS_PER_WORD).long() *
                weights).sum(-1)

    def lookup(self, ys: Tensor, xs: Tensor, selectors: Tensor) -> Tensor:
        """Whether any selected object covers each pixel.

        Args:
            ys (Tensor): int64 rows inside the image, any shape broadcastable
                with ``xs``.
            xs (Tensor): int64 columns inside the image.
            selectors (Tensor): ``(..., num_words)`` int64; its leading
                shape broadcasts with ``ys`` / ``xs``.

        Returns:
            Tensor: bool, the broadcast shape of ``ys``, ``xs`` and the
            selectors' leading shape.
        """
        out = None
        for w in range(self.num_words):
            sel_w = selectors[..., w]
            if not bool((sel_w != 0).any()):
                continue
            hit = (self.words[w][ys, xs] & sel_w) != 0
            out = hit if out is None else out | hit
        if out is None:
            shape = torch.broadcast_shapes(ys.shape, xs.shape,
                                           selectors.shape[:-1])
            out = torch.zeros(shape, dtype=torch.bool, device=self.device)
        return out

    def rect_union(self, selector: Tensor, ya: int, yb: int, xa: int,
                   xb: int) -> Tensor:
        """Whether any selected object covers each pixel of a rectangle.

        Args:
            selector (Tensor): ``(num_words,)`` int64 object set.
            ya (int): First row (inside the image).
            yb (int): End row (exclusive).
            xa (int): First column.
            xb (int): End column (exclusive).

        Returns:
            Tensor: ``(yb - ya, xb - xa)`` bool.
        """
        out = torch.zeros((yb - ya, xb - xa),
                          dtype=torch.bool,
                          device=self.device)
        for w, sel_w in enumerate(selector.tolist()):
            if sel_w:
                out |= (self.words[w, ya:yb, xa:xb] & sel_w) != 0
        return out

    def dilated(self, radii: Tensor) -> 'PackedMasks':
        """Dilate every object with a 3x3 cross, ``radii[j]`` times.

        ``radii[j]`` crosses give the L1 (4-neighbourhood) ball of radius
        ``radii[j]``: a pixel belongs to the result for object j iff its
        city-block distance to mask j is at most ``radii[j]``.

        Args:
            radii (Tensor): ``(N,)`` non-negative int64 per-object radii.

        Returns:
            PackedMasks: The dilated planes (a new object).
        """
        radii = radii.to(self.device, torch.long)
        out = self.words.clone()
        steps = int(radii.max()) if radii.numel() else 0
        for step in range(1, steps + 1):
            active = self.selectors_from_members(
                (radii >= step)[None])[0]  # (num_words,)
            grown = out.clone()
            grown[:, 1:, :] |= out[:, :-1, :]
            grown[:, :-1, :] |= out[:, 1:, :]
            grown[:, :, 1:] |= out[:, :, :-1]
            grown[:, :, :-1] |= out[:, :, 1:]
            out |= grown & active[:, None, None]
        return PackedMasks(out, self.num)

    def edge_pixels(self) -> Tensor:
        """Covered pixels whose object set differs from a 4-neighbour's, or
        that lie on the image border.

        Every object's boundary pixels and every overlap region's boundary
        are among them; interior pixels (same objects as all 4 neighbours)
        are not. ``(H, W)`` bool.
        """
        words = self.words
        differs = torch.zeros(
            words.shape[1:], dtype=torch.bool, device=self.device)
        vertical = (words[:, 1:, :] != words[:, :-1, :]).any(0)
        horizontal = (words[:, :, 1:] != words[:, :, :-1]).any(0)
        differs[1:, :] |= vertical
        differs[:-1, :] |= vertical
        differs[:, 1:] |= horizontal
        differs[:, :-1] |= horizontal
        differs[0, :] = True
        differs[-1, :] = True
        differs[:, 0] = True
        differs[:, -1] = True
        return differs & (words != 0).any(0)

    def pixel_objects(self,
                      pixel_chunk: int = DEFAULT_PIXEL_CHUNK,
                      edges_only: bool = False):
        """Iterate over ``(obj, ys, xs)`` chunks of object pixels.

        Args:
            pixel_chunk (int): Pixels per chunk.
            edges_only (bool): Only the pixels of :meth:`edge_pixels`.

        Yields:
            tuple[Tensor, Tensor, Tensor]: int64 object index, row and
            column of each (object, pixel) membership.
        """
        if edges_only:
            covered = self.edge_pixels()
        else:
            covered = (self.words != 0).any(0)
        ys_all, xs_all = torch.nonzero(covered, as_tuple=True)
        for start in range(0, ys_all.numel(), pixel_chunk):
            ys = ys_all[start:start + pixel_chunk]
            xs = xs_all[start:start + pixel_chunk]
            for w in range(self.num_words):
                rows, bits = extract_bits(self.words[w][ys, xs])
                if rows.numel():
                    yield bits + w * BITS_PER_WORD, ys[rows], xs[rows]

    def pair_counts(self,
                    obj: Tensor,
                    ys: Tensor,
                    xs: Tensor,
                    exclude_self: bool = True) -> Tensor:
        """Count, for pixel sets of objects, the pixels inside each object.

        Args:
            obj (Tensor): ``(P,)`` int64 owner of each pixel (the row of the
                result).
            ys (Tensor): ``(P,)`` int64 rows.
            xs (Tensor): ``(P,)`` int64 columns.
            exclude_self (bool): Zero the diagonal.

        Returns:
            Tensor: ``(N, N)`` int64, ``counts[i, j]`` = number of given
            pixels of owner ``i`` that lie in mask ``j``.
        """
        n = self.num
        counts = torch.zeros(n * n, dtype=torch.long, device=self.device)
        for w in range(self.num_words):
            rows, bits = extract_bits(self.words[w][ys, xs])
            if rows.numel() == 0:
                continue
            other = bits + w * BITS_PER_WORD
            counts += torch.bincount(obj[rows] * n + other, minlength=n * n)
        counts = counts.view(n, n)
        if exclude_self and n:
            counts.fill_diagonal_(0)
        return counts


def _object_chunks(masks: Tensor, pixel_chunk: int):
    """Split objects into consecutive runs scanning ~``4 * pixel_chunk``
    pixels each (bounds the ``nonzero`` output without a counting pass).

    Yields:
        tuple[int, int]: ``start, stop`` object indices.
    """
    n, h, w = masks.shape
    step = max(1, (4 * pixel_chunk) // max(h * w, 1))
    for start in range(0, n, step):
        yield start, min(n, start + step)


def enumerate_mask_pixels(masks: Tensor,
                          pixel_chunk: int = DEFAULT_PIXEL_CHUNK,
                          offset: Optional[int] = 0):
    """Iterate over ``(obj, ys, xs)`` chunks of the pixels of a mask stack.

    Args:
        masks (Tensor): ``(N, H, W)`` bool masks.
        pixel_chunk (int): Bounds the pixels scanned per chunk (whole
            objects, at least one per chunk).
        offset (int): Added to the object indices.

    Yields:
        tuple[Tensor, Tensor, Tensor]: int64 object index, row, column.
    """
    masks = as_bool_mask_tensor(masks)
    for start, stop in _object_chunks(masks, pixel_chunk):
        obj, ys, xs = torch.nonzero(masks[start:stop], as_tuple=True)
        yield obj + start + offset, ys, xs
