"""Degradations for restoration mode (mask ratio 0): the model sees a degraded image and rebuilds it.

- "noise10" / "noise25": additive Gaussian noise with sigma 10/255 or 25/255, clamped to [0, 1].
- "jpeg20": a JPEG round trip at quality 20 through Pillow, in memory (deterministic).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from inpnet.errors import InpNetError

DEGRADATIONS = ("noise10", "noise25", "jpeg20")

_NOISE_SIGMA = {"noise10": 10 / 255, "noise25": 25 / 255}
_JPEG_QUALITY = {"jpeg20": 20}


def _jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    array = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for image in array:  # (H,W,3) uint8
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out.append(np.asarray(decoded.convert("RGB")))
    result = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)  # (B,3,H,W) uint8
    return result.to(device=images.device, dtype=images.dtype) / 255


def degrade(images: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Degrade images (B,3,H,W) in [0,1] -> (B,3,H,W) in [0,1], same dtype and device.

    `generator` drives the noise (drawn on the generator's device, then moved to the images'); None
    means a fresh generator seeded 0, so results are always reproducible. JPEG ignores it.
    """
    if kind not in DEGRADATIONS:
        raise InpNetError(f"unknown degradation {kind!r}; expected one of {', '.join(DEGRADATIONS)}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise InpNetError(f"degrade expects images of shape (B,3,H,W), got {tuple(images.shape)}")
    if kind in _JPEG_QUALITY:
        return _jpeg(images, _JPEG_QUALITY[kind])
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    noise = torch.randn(images.shape, generator=generator, device=generator.device, dtype=torch.float32)
    noisy = images + _NOISE_SIGMA[kind] * noise.to(device=images.device, dtype=images.dtype)
    return noisy.clamp(0, 1)
