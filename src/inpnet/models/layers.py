"""Building blocks: pre-norm transformer block (timm parameter names), cross-attention block, conv blocks.

Parameter names follow timm's ViT (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`) so that
pretrained encoders load by renaming nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def init_vit_weights(model: nn.Module, patch_proj: nn.Conv2d) -> None:
    """FB-MAE's initialisation: xavier-uniform linears (and the patch projection seen as a linear map),
    zero biases, unit LayerNorms. Shared by InP-Net and the MAE baseline so that they start alike."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    w = patch_proj.weight
    nn.init.xavier_uniform_(w.view(w.shape[0], -1))


def key_padding_to_attn_mask(key_valid: torch.Tensor | None) -> torch.Tensor | None:
    """(B, N) bool, True = attend → (B, 1, 1, N) additive float mask for SDPA (0 = attend, -inf = padding;
    broadcast over heads and queries). Float, not bool: the ONNX export of a bool mask adds a Where and an
    IsNaN guard to every attention layer (1.5 ms of a 26-ms int8 frame, docs/benchmarks.md); SDPA gives the
    same result for both, including 0 for a row with no key at all (an all-hole image)."""
    if key_valid is None:
        return None
    bias = torch.zeros(key_valid.shape, dtype=torch.float32, device=key_valid.device)
    return bias.masked_fill(~key_valid, float("-inf"))[:, None, None, :]


class Attention(nn.Module):
    """Multi-head self-attention through `F.scaled_dot_product_attention` (flash / mem-efficient kernels)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, D/heads)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(x.transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    """Pre-norm transformer block: x + MSA(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), attn_mask)
        return x + self.mlp(self.norm2(x))


class CrossAttention(nn.Module):
    """Queries from one token set, keys/values from another (the visible tokens)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        B, N, D = x.shape
        M = context.shape[1]
        h = self.num_heads
        q = self.q(x).reshape(B, N, h, D // h).transpose(1, 2)  # (B, h, N, d)
        k, v = self.kv(context).reshape(B, M, 2, h, D // h).permute(2, 0, 3, 1, 4).unbind(0)  # (B, h, M, d)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(x.transpose(1, 2).reshape(B, N, D))


class FillBlock(nn.Module):
    """Masked attention fill: every grid token (mask tokens included) attends to the visible tokens only.

    Cost is L × N_visible, so it also falls as the mask ratio rises.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim, eps=1e-6)
        self.norm_kv = nn.LayerNorm(dim, eps=1e-6)
        self.attn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, grid: torch.Tensor, visible: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        grid = grid + self.attn(self.norm_q(grid), self.norm_kv(visible), attn_mask)
        return grid + self.mlp(self.norm2(grid))


def make_norm(kind: str, channels: int) -> nn.Module:
    """BatchNorm (the paper's choice) or GroupNorm (batch-size independent)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(min(8, channels), channels)


class ResidualConvBlock(nn.Module):
    """x + conv3x3(relu(norm(conv3x3(x)))): refines texture, reduces checkerboard artifacts."""

    def __init__(self, channels: int, norm: str = "batch") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm1 = make_norm(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = make_norm(norm, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(x + self.norm2(self.conv2(y)))


class UpStage(nn.Module):
    """ConvTranspose2d(stride 2) + norm + ReLU + residual 3×3 block: doubles the resolution."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "batch") -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, kernel_size=2, stride=2, bias=False)
        self.norm = make_norm(norm, out_ch)
        self.res = ResidualConvBlock(out_ch, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res(F.relu(self.norm(self.up(x))))
