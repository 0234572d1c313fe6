"""Harmonic (Laplace) completion of numpy images with OpenCV calls, and the seam correction built on it.

`smooth_fill` is the coarse-to-fine Laplace solve of `inpnet.models.prefill.harmonic_fill` written with
OpenCV calls: the torch version costs ~25 ms per 200x200 crop on 2 CPU cores (per-op overhead on small
tensors), this one ~1-2 ms. The video's flow completion and hole pre-fills use it, and so does
`seam_offset`, which `InpaintPipeline` adds to every fill.

Why `seam_offset` (measured on the native test photos, docs/results.md): the network fills a hole at its
working size (128 px for the shipped model) and the fill is scaled up into the photo. On the known pixels
around the hole its prediction then differs from the photo by what the small size cannot hold (the photo's
detail) and by its own bias (a slightly darker or flatter colour), and that difference stops at the hole's
edge: a seam. Spreading the difference along the hole's edge smoothly into the hole - the boundary term of
Poisson image editing (Perez et al. 2003), with the network's prediction as the guide - makes the fill meet
the photo exactly and carries the edge's detail into thin holes. OpenCV's `seamlessClone` solves the same
equation but places a source patch by its centre and needs the hole away from the image border; a hole here
is anywhere, so the solve is this module's.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FILL_SWEEPS", "seam_offset", "smooth_fill"]

FILL_SWEEPS = 8  # Jacobi sweeps per pyramid level (coarse-to-fine: a few are enough)
_CROSS = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
_RING = np.ones((3, 3), np.uint8)  # the edge: known pixels touching the hole (8-neighbourhood)


def smooth_fill(image: np.ndarray, hole: np.ndarray, sweeps: int = FILL_SWEEPS) -> np.ndarray:
    """(h, w, C) float32 (C <= 4) with the hole (h, w) bool replaced by a harmonic completion; the known
    pixels are returned unchanged. An all-hole image comes back unchanged."""
    known = (~hole).astype(np.float32)
    if not known.any():
        return image.copy()
    x = image * known[..., None]  # colour premultiplied by coverage
    levels = [(x, known)]
    while max(x.shape[:2]) > 1:
        size = ((x.shape[1] + 1) // 2, (x.shape[0] + 1) // 2)  # (w, h)
        x = _channels(cv2.resize(x, size, interpolation=cv2.INTER_AREA))
        cover = cv2.resize(levels[-1][1], size, interpolation=cv2.INTER_AREA)
        levels.append((x, cover))
    x, cover = levels[-1]
    colour = x / np.maximum(cover, 1e-12)[..., None]
    for x, cover in reversed(levels[:-1]):
        up = _channels(cv2.resize(colour, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_LINEAR))
        free = np.repeat((1.0 - cover)[..., None], x.shape[2], axis=2)  # (h, w, C): OpenCV does not broadcast
        colour = x + free * up
        neighbours = np.empty_like(colour)
        for _ in range(sweeps):  # colour = x + free * mean of the 4 neighbours, in place (1.5x faster)
            cv2.filter2D(colour, -1, _CROSS, dst=neighbours, borderType=cv2.BORDER_REPLICATE)
            cv2.multiply(neighbours, free, dst=neighbours)
            cv2.add(x, neighbours, dst=colour)
    out = image.copy()
    out[hole] = colour[hole]
    return out


def seam_offset(photo: np.ndarray, prediction: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """What to add to a fill so that it meets the photo at the hole's edge: (h, w, 3) float32, zero outside
    the hole. photo: (h, w, 3) the known pixels (any dtype, 0-255); prediction: (h, w, 3) float, the
    network's output on the same pixels and scale (its values on the known pixels matter); hole: (h, w) bool.
    Inside the hole: the harmonic completion of photo - prediction on the edge (the known pixels touching the
    hole). No edge (the hole covers everything): zero."""
    correction = np.zeros(prediction.shape, np.float32)
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    if rows.size == 0:
        return correction
    # the hole's bounding box and its edge: the solve inside the edge needs nothing outside it
    box = (slice(max(0, rows[0] - 1), rows[-1] + 2), slice(max(0, cols[0] - 1), cols[-1] + 2))
    inside = hole[box]
    edge = cv2.dilate(np.ascontiguousarray(inside, dtype=np.uint8), _RING).astype(bool) & ~inside
    if not edge.any():
        return correction
    offset = np.zeros(inside.shape + (prediction.shape[2],), np.float32)
    offset[edge] = photo[box][edge].astype(np.float32) - prediction[box][edge]
    offset = smooth_fill(offset, ~edge)  # from the edge into the hole
    correction[box] = np.where(inside[..., None], offset, 0.0)
    return correction


def _channels(a: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing axis of size 1: put it back."""
    return a[..., None] if a.ndim == 2 else a
