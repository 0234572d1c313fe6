"""Checks on what a model is given: shapes, dtypes, sizes. A user mistake is an InpNetError, never a reshape."""

from __future__ import annotations

import torch

from inpnet.errors import InpNetError


def check_inputs(images: torch.Tensor, mask: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Validate `images` (B,3,H,W) float and `mask` (B,1,H,W); return the mask as images' dtype in {0,1}."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InpNetError(f"images must be a (B, 3, H, W) tensor, got {got}")
    if not images.is_floating_point():
        raise InpNetError(f"images must be float in [0, 1], got dtype {images.dtype}")
    B, _, H, W = images.shape
    if H % patch_size or W % patch_size:
        raise InpNetError(f"image size {H}x{W} is not divisible by the patch size {patch_size}")
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (B, 1, H, W):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InpNetError(f"mask must be a ({B}, 1, {H}, {W}) tensor (1 = hole), got {got}")
    if mask.dtype == torch.bool:
        return mask.to(images.dtype)
    if not (mask.is_floating_point() or mask.dtype in (torch.uint8, torch.int32, torch.int64)):
        raise InpNetError(f"mask must be bool, integer or float, got dtype {mask.dtype}")
    return (mask > 0.5).to(images.dtype)
