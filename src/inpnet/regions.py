"""Where the model runs on a photo: the hole (from a mask, resized to the photo, dilated), the context windows
around its parts, and the strategy that picks between them (`crop`, `resize`, `auto`; see `inpnet.predict`).

Pure numpy / OpenCV on (H, W) bool holes, no model: `InpaintPipeline` asks `prepare_hole` for the hole and
`plan_windows` for the windows to fill, and the web page asks `work_size` for the grid it draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from inpnet.errors import InpNetError, note

STRATEGIES = ("auto", "crop", "resize")
CONTEXT_SCALE = 2.0  # crop window side / hole extent: the hole covers about 1/4 of its window
FEW_WINDOWS = 16  # _coverage_labels: up to this many windows, fill rectangles (else a difference array)
AUTO_CROP_MAX_FRACTION = 0.5  # auto: crop while the windows cover at most this fraction of the image
MAX_KERNEL_DILATE = 32  # dilate up to this many pixels with an elliptic kernel, beyond by a distance transform


@dataclass(frozen=True)
class Window:
    """A rectangle of the image in pixels: rows [top, top + height), columns [left, left + width)."""

    top: int
    left: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    @property
    def area(self) -> int:
        return self.height * self.width


def work_size(height: int, width: int, model_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Size the model runs at for a (height, width) region: about the model's pixel count, the region's
    aspect ratio (unless that makes a side shorter than a patch), sides multiples of the patch size.
    A region of exactly the model size is kept as is."""
    area = model_size[0] * model_size[1]
    scale = math.sqrt(area / (height * width))
    p = patch_size
    h, w = max(p, round(height * scale / p) * p), max(p, round(width * scale / p) * p)
    if h == p and w > p:  # a very thin region: keep the pixel count, not the aspect ratio
        w = max(p, round(area / h / p) * p)
    elif w == p and h > p:
        h = max(p, round(area / w / p) * p)
    return h, w


def _windows_for(boxes: np.ndarray, image_hw: tuple[int, int], model_size: tuple[int, int],
                 context: float) -> np.ndarray:
    """Context windows (N, 4) [top, left, height, width] for hole bounding boxes (N, 4) [y0, x0, y1, x1]
    (ends exclusive): the box grown `context` times in the model's aspect ratio, at least the model size,
    containing the box, inside the image."""
    H, W = image_hw
    mh, mw = model_size
    y0, x0, y1, x1 = boxes.T
    k = np.maximum(np.maximum((y1 - y0) * context / mh, (x1 - x0) * context / mw), 1.0)
    wh = np.minimum(H, np.ceil(k * mh)).astype(np.int64)
    ww = np.minimum(W, np.ceil(k * mw)).astype(np.int64)
    top = np.floor((y0 + y1) / 2 - wh / 2 + 0.5).astype(np.int64)
    left = np.floor((x0 + x1) / 2 - ww / 2 + 0.5).astype(np.int64)
    top = np.clip(np.maximum(np.minimum(top, y0), y1 - wh), 0, H - wh)  # contains the box, inside the image
    left = np.clip(np.maximum(np.minimum(left, x0), x1 - ww), 0, W - ww)
    return np.stack([top, left, wh, ww], axis=1)


def _coverage_labels(wins: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) int32 labels of the connected areas covered by the windows (N, 4); 0 = not covered."""
    H, W = image_hw
    if len(wins) <= FEW_WINDOWS:  # a few rectangles: filling them is cheaper than the difference array
        covered = np.zeros((H, W), dtype=np.uint8)
        for t, le, h, w in wins:
            covered[t : t + h, le : le + w] = 1
    else:
        diff = np.zeros((H + 1, W + 1), dtype=np.int32)  # 2-D difference array: O(N + H*W), not O(N * area)
        t, le, h, w = wins.T
        np.add.at(diff, (t, le), 1)
        np.add.at(diff, (t + h, le), -1)
        np.add.at(diff, (t, le + w), -1)
        np.add.at(diff, (t + h, le + w), 1)
        covered = (diff.cumsum(0).cumsum(1)[:H, :W] > 0).astype(np.uint8)
    return cv2.connectedComponents(covered, connectivity=4)[1]


def hole_windows(hole: np.ndarray, model_size: tuple[int, int],
                 context: float = CONTEXT_SCALE) -> list[Window]:
    """Disjoint context windows covering every hole pixel: one per connected hole region (8-connected);
    overlapping (or touching) windows are merged into the window of their joint bounding box, until none
    overlap. hole: (H, W) bool."""
    cells = np.ascontiguousarray(hole)
    cells = cells.view(np.uint8) if cells.dtype == bool else (cells != 0).astype(np.uint8)  # bool: no copy
    _, _, stats, _ = cv2.connectedComponentsWithStats(cells, connectivity=8)
    x, y, w, h = (stats[1:, i].astype(np.int64) for i in range(4))
    boxes = np.stack([y, x, y + h, x + w], axis=1)  # (N, 4) y0, x0, y1, x1
    while True:
        wins = _windows_for(boxes, hole.shape, model_size, context)  # (N, 4)
        labels = _coverage_labels(wins, hole.shape)[boxes[:, 0], boxes[:, 1]]  # the area holding each box
        groups, group_of = np.unique(labels, return_inverse=True)
        if len(groups) == len(boxes):
            return [Window(*(int(v) for v in win)) for win in wins]
        merged = np.empty((len(groups), 4), dtype=np.int64)
        for g in range(len(groups)):
            members = boxes[group_of.ravel() == g]
            merged[g] = (members[:, 0].min(), members[:, 1].min(), members[:, 2].max(), members[:, 3].max())
        boxes = merged


def dilate_hole(hole: np.ndarray, pixels: int) -> np.ndarray:
    """(H, W) bool hole grown by `pixels` (a disc): an elliptic kernel up to MAX_KERNEL_DILATE, beyond it a
    distance transform (a kernel that large costs O(pixels * radius^2) time and radius^2 memory)."""
    if not pixels or not hole.any():
        return hole
    if pixels <= MAX_KERNEL_DILATE:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
        return cv2.dilate(hole.astype(np.uint8), kernel) > 0
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= pixels


def prepare_hole(hole: np.ndarray, image_hw: tuple[int, int], dilate: int = 0,
                 resize_mask: bool = True) -> np.ndarray:
    """An (h, w) bool hole -> the (H, W) = `image_hw` hole to fill: a mask of another size is resized to the
    image (nearest, with a warning; `resize_mask=False` makes that an error), then grown by `dilate` pixels."""
    if hole.shape != image_hw:
        (h, w), (H, W) = hole.shape, image_hw
        if not resize_mask:
            raise InpNetError(f"mask is {w}x{h} pixels but the image is {W}x{H}")
        turned = (" (its sides swapped: drawn on the photo as stored, before its EXIF turn? Draw it on the photo "
                  "as shown)" if (w, h) == (H, W) and w != h else "")
        note(f"mask {w}x{h} resized to the image size {W}x{H} (nearest){turned}")
        hole = np.asarray(Image.fromarray(hole).resize((W, H), Image.Resampling.NEAREST))
    return dilate_hole(hole, dilate)


def check_strategy(strategy: str, error: type[InpNetError] = InpNetError) -> str:
    """`strategy` if it is one of STRATEGIES, else a one-line `error` (the web page raises its own kind)."""
    if strategy not in STRATEGIES:
        raise error(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return strategy


def plan_windows(hole: np.ndarray, model_size: tuple[int, int], strategy: str) -> tuple[str, list[Window]]:
    """(the strategy, the windows it fills) for an (H, W) bool hole; `auto` decides as `inpnet.predict`'s
    docstring says, reusing the crop windows it measured (finding them takes ~1 ms on a 256-px frame)."""
    check_strategy(strategy)
    whole = [Window(0, 0, hole.shape[0], hole.shape[1])]
    if strategy == "resize":
        return "resize", whole
    if strategy == "crop":
        return "crop", hole_windows(hole, model_size)
    image_area = hole.size
    model_area = model_size[0] * model_size[1]
    if image_area <= model_area or hole.sum() > AUTO_CROP_MAX_FRACTION * image_area:
        return "resize", whole
    windows = hole_windows(hole, model_size)
    covered = sum(w.area for w in windows)
    return ("crop", windows) if covered <= AUTO_CROP_MAX_FRACTION * image_area else ("resize", whole)
