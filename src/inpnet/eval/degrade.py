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


# Training mix for restoration (ratio 0): each sample draws one kind, then its strength.
TRAINING_MIX = ("noise", "jpeg", "blur")
_TRAIN_NOISE_SIGMA = (2 / 255, 35 / 255)
TRAIN_JPEG_QUALITY = (10, 70)  # default JPEG quality range of the training mix
EVEN_MIX = (1.0, 1.0, 1.0)  # weights of TRAINING_MIX's kinds: each equally likely
_TRAIN_BLUR_SIGMA = (0.4, 1.4)


def _uniform(generator: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def _draw_kind(generator: torch.Generator, weights: tuple[float, ...]) -> str:
    if tuple(weights) == EVEN_MIX:  # the draw every run before `mix` existed made: same stream, same samples
        return TRAINING_MIX[int(torch.randint(len(TRAINING_MIX), (), generator=generator))]
    index = int(torch.multinomial(torch.tensor(weights, dtype=torch.float64), 1, generator=generator))
    return TRAINING_MIX[index]


def random_degradation(
    images: torch.Tensor, generator: torch.Generator, mix: tuple[float, float, float] = EVEN_MIX,
    jpeg_quality: tuple[int, int] = TRAIN_JPEG_QUALITY,
) -> torch.Tensor:
    """A random training degradation per image of (B,3,H,W) in [0,1] -> same shape, dtype and device.

    Each image draws one of Gaussian noise (sigma 2..35 /255), a JPEG round trip (quality in `jpeg_quality`,
    10..70 by default) or a Gaussian blur (sigma 0.4..1.4 px) followed by light noise (sigma <= 3/255), with
    probabilities proportional to `mix` (noise, jpeg, blur): the families the evaluation measures (noise10,
    noise25, jpeg20) and their neighbours, so the model does not learn three points."""
    from torchvision.transforms.v2 import functional as TF

    out = []
    for image in images:  # (3, H, W)
        kind = _draw_kind(generator, mix)
        x = image.unsqueeze(0).float()
        if kind == "jpeg":
            quality = int(round(_uniform(generator, *jpeg_quality)))
            x = _jpeg(x, quality)
        else:
            sigma = _uniform(generator, *_TRAIN_NOISE_SIGMA) if kind == "noise" else _uniform(generator, 0, 3 / 255)
            if kind == "blur":
                blur = _uniform(generator, *_TRAIN_BLUR_SIGMA)
                x = TF.gaussian_blur(x, kernel_size=2 * int(3 * blur) + 1, sigma=blur)
            noise = torch.randn(x.shape, generator=generator, dtype=torch.float32)
            x = (x + sigma * noise.to(x.device)).clamp(0, 1)
        out.append(x.to(images.dtype))
    return torch.cat(out)
