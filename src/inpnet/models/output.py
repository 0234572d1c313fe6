"""The one output type that every inpainting model (and baseline) returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class InpaintOutput:
    prediction: torch.Tensor  # (B,3,H,W) raw model output for every pixel
    composite: torch.Tensor  # (B,3,H,W) mask * prediction + (1 - mask) * image, clamped to [0,1]
    token_mask: torch.Tensor | None  # (B,L) bool, True = masked token (None for pixel-space methods)


def composite(image: torch.Tensor, mask: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Keep `image` where `mask` is 0 and take `prediction` in the hole (mask 1), clamped to [0, 1].

    image, prediction: (B,3,H,W); mask: (B,1,H,W), 1 = hole. With a binary mask the kept pixels are
    bit-exact copies of `image` (for `image` in [0, 1]).
    """
    return (mask * prediction + (1 - mask) * image).clamp(0, 1)
