"""Classical inpainting baselines behind the same call as a model: `inpainter(images, mask) -> InpaintOutput`.

- "telea": OpenCV's fast marching method (Telea 2004), on 8-bit images.
- "ns": OpenCV's Navier-Stokes method (Bertalmio et al. 2001), on 8-bit images.
- "biharmonic": scikit-image's biharmonic inpainting, on float images.
- "patchmatch": PatchMatch exemplar inpainting (Barnes et al. 2009, the algorithm behind Photoshop's
  Content-Aware Fill) from the optional `pypatchmatch` package, on
  8-bit images: it copies patches of the photo into the hole, so its fills keep the photo's texture.
  (`pypatchmatch` is a dependency on Linux x86-64, where its wheels exist.)
- "harmonic": the pyramid harmonic fill that InP-Net's `prefill="harmonic"` starts from (models/prefill.py),
  so that the network's own contribution over its starting point is measured.

Edge cases: a sample with no hole is returned unchanged; a sample that is all hole has nothing to
propagate from, so it is filled with mid-grey 0.5 instead of failing.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from skimage.restoration import inpaint_biharmonic

from inpnet.errors import InpNetError
from inpnet.models.output import InpaintOutput, composite
from inpnet.models.prefill import harmonic_fill
from inpnet.texture import patchmatch_inpaint

BASELINES = ("telea", "ns", "biharmonic", "patchmatch", "harmonic")

_ALL_HOLE_FILL = 0.5


class ClassicalInpainter:
    """A classical inpainting method with a model's interface (no parameters, no training)."""

    def __init__(self, method: str, radius: int = 3) -> None:
        if method not in BASELINES:
            raise InpNetError(f"unknown baseline {method!r}; expected one of {', '.join(BASELINES)}")
        if not isinstance(radius, int) or radius < 1:
            raise InpNetError(f"baseline radius must be a positive integer, got {radius!r}")
        self.method = method
        self.radius = radius  # neighbourhood of the OpenCV methods, in pixels (unused by biharmonic)

    def __repr__(self) -> str:
        return f"ClassicalInpainter(method={self.method!r}, radius={self.radius})"

    def _fill(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """image (H,W,3) float64 in [0,1], hole (H,W) bool with some but not all True -> (H,W,3) float64."""
        if self.method == "biharmonic":
            return inpaint_biharmonic(image, hole, channel_axis=-1)
        image8 = np.ascontiguousarray(np.round(image * 255).astype(np.uint8))
        if self.method == "patchmatch":
            filled = patchmatch_inpaint(image8, hole)
            return filled.astype(np.float64) / 255
        flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
        filled = cv2.inpaint(image8, hole.astype(np.uint8) * 255, float(self.radius), flag)
        return filled.astype(np.float64) / 255

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        """images (B,3,H,W) in [0,1], mask (B,1,H,W) with 1 = hole -> InpaintOutput (token_mask None)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise InpNetError(f"baseline expects images of shape (B,3,H,W), got {tuple(images.shape)}")
        b, _, h, w = images.shape
        if tuple(mask.shape) != (b, 1, h, w):
            raise InpNetError(f"baseline expects a mask of shape {(b, 1, h, w)}, got {tuple(mask.shape)}")
        if self.method == "harmonic":  # batched torch, no per-image numpy round trip
            known = images.detach() * (1 - mask.to(images.dtype))
            prediction = harmonic_fill(known, (mask.detach() > 0.5).to(images.dtype))
            return InpaintOutput(prediction, composite(images, mask.to(images.dtype), prediction), None)
        array = images.detach().double().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()  # (B,H,W,3)
        holes = (mask.detach()[:, 0] > 0.5).cpu().numpy()  # (B,H,W) bool
        preds = []
        for image, hole in zip(array, holes):
            if not hole.any():
                preds.append(image)
            elif hole.all():
                preds.append(np.full_like(image, _ALL_HOLE_FILL))
            else:
                preds.append(np.clip(self._fill(image, hole), 0, 1))
        prediction = torch.from_numpy(np.stack(preds)).permute(0, 3, 1, 2)  # (B,3,H,W)
        prediction = prediction.to(device=images.device, dtype=images.dtype)
        return InpaintOutput(
            prediction=prediction,
            composite=composite(images, mask.to(images.dtype), prediction),
            token_mask=None,
        )
