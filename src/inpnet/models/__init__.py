"""Model registry: `build_model(name, preset, **overrides)` and `list_models()`."""

from __future__ import annotations

from typing import Any

from torch import nn

from inpnet.config import VARIANTS, ModelConfig
from inpnet.models.output import InpaintOutput

__all__ = ["InpaintOutput", "build_model", "list_models", "count_parameters"]


def build_model(name: str | ModelConfig, preset: str = "tiny", **overrides: Any) -> nn.Module:
    """An InP-Net variant or the MAE baseline, randomly initialised.

    `build_model("skip-recon", preset="small", image_size=224)` or `build_model(config)`.
    """
    if isinstance(name, ModelConfig):
        config = name.replace(**overrides) if overrides else name
    else:
        config = ModelConfig.from_name(name, preset=preset, **overrides)
    if config.arch == "mae":
        from inpnet.models.mae import MAE

        return MAE(config)
    from inpnet.models.inpainter import InpNet

    return InpNet(config)


def list_models() -> list[str]:
    """Variant names (the six of the paper and `mae`)."""
    return list(VARIANTS)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
