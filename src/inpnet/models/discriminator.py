"""PatchGAN discriminator (pix2pix style, spectral norm for stability): a realism score per image region."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """(B, 3, H, W) -> (B, 1, H/8 - 2, W/8 - 2) logits (70×70 receptive field at 3 layers)."""

    def __init__(self, *, in_chans: int = 3, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            spectral_norm(nn.Conv2d(in_chans, base_channels, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        ch = base_channels
        for i in range(1, num_layers):
            nxt = base_channels * min(2**i, 8)
            layers += [spectral_norm(nn.Conv2d(ch, nxt, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            ch = nxt
        layers += [spectral_norm(nn.Conv2d(ch, ch, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(ch, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2.0 - 1.0)

    def forward_features(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(logits as `forward`, the activations after each LeakyReLU, shallow -> deep) for feature matching."""
        x, features = images * 2.0 - 1.0, []
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                features.append(x)
        return x, features
