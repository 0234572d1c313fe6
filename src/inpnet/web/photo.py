"""The photo being edited on the page, and the smaller copy of it that the editor shows.

Gradio's editor is slow with a phone photo: on every run the browser encodes the editor's photo, composite and
brush layer as PNGs and uploads them, several times over (a 3000 x 2000 photo: 16 MB up to 7 times for one
Remove, measured in headless Chromium). So a photo above EDITOR_PIXELS is shown in the editor at that size,
the photo itself stays on the server, and the strokes painted on the copy are scaled up to it: the result is
the full photo, every pixel outside the hole unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

EDITOR_PIXELS = 1920 * 1080  # a Full HD screen's worth: more than the editor box shows on most screens
SAME_PHOTO_LEVELS = 1.0  # mean |difference| (8-bit levels) under which the editor still holds our copy


def fits_editor(height: int, width: int) -> bool:
    """Whether the editor can hold a (height, width) photo as it is (else it shows a smaller copy)."""
    return height * width <= EDITOR_PIXELS


def shown_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the copy the editor shows: the photo's own size up to EDITOR_PIXELS, else scaled down to it
    with the same aspect ratio."""
    if fits_editor(height, width):
        return height, width
    scale = math.sqrt(EDITOR_PIXELS / (height * width))
    return max(1, int(height * scale)), max(1, int(width * scale))


def shown_copy(image: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> the copy at `shown_size` (area-averaged), or `image` itself when small enough."""
    h, w = shown_size(*image.shape[:2])
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True, eq=False)
class WorkingPhoto:
    """A photo too large for the editor: `full` (H, W, 3) uint8, and `shown` (h, w, 3), the copy in the
    editor; `rgba` (H, W, 4) uint8, the photo as uploaded when it has transparency (kept in the result)."""

    full: np.ndarray
    shown: np.ndarray
    rgba: np.ndarray | None = None

    @classmethod
    def of(cls, image: np.ndarray, rgba: np.ndarray | None = None) -> WorkingPhoto | None:
        """The working photo for `image` (H, W, 3) uint8; None when the editor can hold it as it is."""
        shown = shown_copy(image)
        return None if shown is image else cls(full=image, shown=shown, rgba=rgba)

    @property
    def full_size(self) -> tuple[int, int]:
        return self.full.shape[0], self.full.shape[1]

    def holds(self, editor_image: np.ndarray) -> bool:
        """Whether the editor's photo (h, w, 3) is still our copy (and not another photo the user opened
        since): the same size and, after the browser's PNG round trip, the same pixels."""
        if editor_image.shape != self.shown.shape:
            return False
        return float(cv2.absdiff(editor_image, self.shown).mean()) <= SAME_PHOTO_LEVELS

    def full_hole(self, hole: np.ndarray) -> np.ndarray:
        """A hole painted on the copy, (h, w) bool -> (H, W) bool on the full photo: the strokes' outline
        interpolated (bilinear, kept where at least half covered), not blown-up copy pixels."""
        height, width = self.full_size
        coverage = cv2.resize(hole.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        return coverage >= 0.5
