"""Patch embedding, interpolable position embedding, and the ViT encoder that reads visible tokens only."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inpnet.models.layers import Block, key_padding_to_attn_mask


class PatchEmbed(nn.Module):
    """Linear projection of non-overlapping p×p patches (a strided conv is the same map, and faster)."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, H, W) -> (B, L, D), L = (H/p)(W/p) in raster order
        return self.proj(x).flatten(2).transpose(1, 2)


def resample_pos_embed(pos: torch.Tensor, src_grid: tuple[int, int], dst_grid: tuple[int, int]) -> torch.Tensor:
    """(1, h*w, D) position table on `src_grid` → (1, h'*w', D) on `dst_grid` by bicubic interpolation."""
    if tuple(src_grid) == tuple(dst_grid):
        return pos
    D = pos.shape[-1]
    grid = pos.reshape(1, src_grid[0], src_grid[1], D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_grid, mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, dst_grid[0] * dst_grid[1], D)


@dataclass
class VisibleTokens:
    """Visible tokens packed to the left of a padded batch.

    tokens: (B, N, D) with N = the largest visible count in the batch (at least 1)
    ids: (B, N) grid index of each packed token (padding slots point at masked positions)
    valid: (B, N) bool, False on padding slots
    """

    tokens: torch.Tensor
    ids: torch.Tensor
    valid: torch.Tensor

    def key_valid(self) -> torch.Tensor:
        """Keys that attention may read: the valid ones, plus slot 0 of an image with no visible token at all
        (its zeroed padding) so that softmax never sees an empty row."""
        empty = ~self.valid.any(dim=1, keepdim=True)  # (B, 1)
        first = torch.zeros_like(self.valid)
        first[:, 0] = True
        return self.valid | (empty & first)


def pack_visible(tokens: torch.Tensor, token_mask: torch.Tensor, full_length: bool = False) -> VisibleTokens:
    """Gather the unmasked tokens of each image to the front, padding to the batch's largest count.

    Vectorised (two cumsums, one scatter, one gather): no Python loop over the batch. With `full_length`
    the padded length is L (static shapes for ONNX export); results for valid tokens are identical.
    """
    B, L, D = tokens.shape
    n_visible = (~token_mask).sum(dim=1)  # (B,)
    N = L if full_length else max(1, int(n_visible.max()))
    # The order a stable argsort of the mask would give (visible first, raster order kept), built from
    # ranks: no sort, so it costs O(L) and exports to ONNX (which has no stable sort).
    hidden = token_mask.long()  # (B, L)
    slot = torch.where(token_mask, n_visible[:, None] + hidden.cumsum(1), (1 - hidden).cumsum(1)) - 1
    order = torch.empty_like(slot).scatter_(1, slot, torch.arange(L, device=tokens.device).expand(B, L))
    ids = order[:, :N]
    valid = torch.arange(N, device=tokens.device)[None, :] < n_visible[:, None]
    packed = tokens.gather(1, ids[..., None].expand(B, N, D))
    packed = packed * valid[..., None].to(packed.dtype)  # padding carries no content of masked patches
    return VisibleTokens(packed, ids, valid)


def scatter_to_grid(packed: VisibleTokens, values: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Put (B, N, D) `values` of the valid slots at their grid positions in `fill` (B, L, D); rest = fill.

    Done as a gather of whole rows (each grid position reads the row of its slot) and a select, not as a
    scatter of single elements: the same values, and in ONNX Runtime a Gather of rows instead of a
    ScatterElements over an (B, N, D) index (the ops of the five calls of a 128-px int8 frame: 1.6-1.9 ms before,
    ~0.6 ms after, ONNX Runtime's profiler, 2 threads)."""
    B, N, D = values.shape
    L = fill.shape[1]
    slot_of = torch.zeros(B, L, dtype=torch.long, device=values.device).scatter(
        1, packed.ids, torch.arange(N, device=values.device).expand(B, N))  # (B, L) slot holding each position
    visible_at = torch.zeros(B, L, dtype=torch.bool, device=values.device).scatter(1, packed.ids, packed.valid)
    rows = (slot_of + N * torch.arange(B, device=values.device)[:, None]).reshape(B * L)  # into (B * N) rows
    taken = values.reshape(B * N, D).index_select(0, rows).reshape(B, L, D)
    return torch.where(visible_at[..., None], taken, fill)


@dataclass
class EncoderOutput:
    visible: VisibleTokens  # tokens after the final norm, (B, N, D)
    skips: list[torch.Tensor]  # outputs of the skip layers, each (B, N, D), shallow → deep


class VisibleEncoder(nn.Module):
    """Pre-norm transformer blocks over the packed visible tokens; ragged counts via a key-padding mask."""

    def __init__(self, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float, skip_layers: tuple[int, ...]):
        super().__init__()
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.skip_layers = tuple(skip_layers)

    def forward(self, packed: VisibleTokens) -> EncoderOutput:
        attn_mask = key_padding_to_attn_mask(packed.key_valid())
        x = packed.tokens
        skips = []
        for i, block in enumerate(self.blocks, start=1):
            x = block(x, attn_mask)
            if i in self.skip_layers:
                skips.append(x)
        out = VisibleTokens(self.norm(x), packed.ids, packed.valid)
        return EncoderOutput(out, skips)
