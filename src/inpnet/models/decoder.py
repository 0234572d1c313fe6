"""The lightweight convolutional decoder: log2(p) upsampling stages with skip fusion."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpnet.models.layers import UpStage, make_norm


class ConvDecoder(nn.Module):
    """Token grid (B, D, h, w) → image (B, 3, h·p, w·p).

    Skip features (each (B, D, h, w), shallow → deep) are projected by 1×1 convs and added to stage
    inputs: the deepest skip enters the first (coarsest) stage, shallower ones later stages.
    With `pixel_channels > 0`, a full-resolution conv path over the known pixels (RGB·(1-mask), mask)
    joins the last stage, so detail at hole borders does not have to pass through the tokens.
    """

    def __init__(
        self,
        *,
        embed_dim: int,
        channels: tuple[int, ...],
        num_skips: int = 0,
        norm: str = "batch",
        pixel_channels: int = 0,
    ) -> None:
        super().__init__()
        stage_in = [min(embed_dim, 256), *channels[:-1]]  # input channels of each stage
        self.stem = nn.Conv2d(embed_dim, stage_in[0], kernel_size=1)
        self.stages = nn.ModuleList(UpStage(cin, cout, norm) for cin, cout in zip(stage_in, channels))
        # skip r (0 = deepest) feeds stage min(r, S-1)
        self.skip_targets = [min(r, len(channels) - 1) for r in range(num_skips)]
        self.skip_proj = nn.ModuleList(nn.Conv2d(embed_dim, stage_in[t], kernel_size=1) for t in self.skip_targets)
        self.pixel_channels = pixel_channels
        last = channels[-1]
        if pixel_channels:
            self.pixel_path = nn.Sequential(
                nn.Conv2d(4, pixel_channels, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(pixel_channels, pixel_channels, 3, padding=1),
                nn.ReLU(inplace=True),
            )
            self.fuse = nn.Sequential(
                nn.Conv2d(last + pixel_channels, last, 3, padding=1, bias=False),
                make_norm(norm, last),
                nn.ReLU(inplace=True),
            )
        self.head = nn.Conv2d(last, 3, kernel_size=3, padding=1)
        # NHWC convolutions: the decoder measured 2-17% faster on CPU (oneDNN) than NCHW, same parameters; the
        # token grid (B, L, D) -> (B, D, h, w) is already NHWC in memory, so the input needs no copy.
        self.to(memory_format=torch.channels_last)

    def forward(
        self, grid: torch.Tensor, skips: list[torch.Tensor] | None = None, pixels: torch.Tensor | None = None
    ) -> torch.Tensor:
        # grid: (B, D, h, w); skips: shallow → deep, each (B, D, h, w); pixels: (B, 4, H, W)
        by_stage: dict[int, list[torch.Tensor]] = {}
        for r, feat in enumerate(reversed(skips or [])):
            t = self.skip_targets[r]
            by_stage.setdefault(t, []).append(self.skip_proj[r](feat))
        x = self.stem(grid)
        for s, stage in enumerate(self.stages):
            for f in by_stage.get(s, []):
                x = x + (f if s == 0 else F.interpolate(f, scale_factor=2**s, mode="nearest"))
            x = stage(x)  # resolution doubles
        if self.pixel_channels:
            if pixels is None:
                raise ValueError("this decoder has a pixel path and needs the known pixels")
            x = self.fuse(torch.cat([x, self.pixel_path(pixels)], dim=1))
        return self.head(x).contiguous()  # (B, 3, H, W) in the default layout for callers
