"""The Facebook MAE baseline (He et al. 2021), sized to match an InP-Net encoder for a fair comparison.

Structure as in FB-MAE `models_mae.py`: cls token, fixed 2-D sin-cos positions, encoder over visible tokens,
a transformer decoder of its own width/depth, a per-patch linear head, loss on masked patches with an
optional per-patch normalised target. Differences: masks come from the caller (any kind, ragged visible
counts handled with a key-padding mask), and `forward` returns `InpaintOutput` like InP-Net.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from inpnet.config import ModelConfig
from inpnet.masks import pixel_to_token_mask
from inpnet.models.encoder import PatchEmbed, VisibleTokens, pack_visible, scatter_to_grid
from inpnet.models.inputs import check_inputs
from inpnet.models.layers import Block, init_vit_weights, key_padding_to_attn_mask
from inpnet.models.output import InpaintOutput, composite


def sincos_pos_embed(dim: int, grid: tuple[int, int], cls_token: bool = True) -> torch.Tensor:
    """Fixed 2-D sin-cos table (1 + h*w, dim) (cls row zero), the MAE / MoCo v3 recipe."""
    h, w = grid
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")

    def one_axis(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    table = np.concatenate([one_axis(dim // 2, gy), one_axis(dim // 2, gx)], axis=1)  # (h*w, dim)
    if cls_token:
        table = np.concatenate([np.zeros((1, dim)), table], axis=0)
    return torch.from_numpy(table).float()


def patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, L, p*p*3), the FB-MAE patch layout."""
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // p, p, W // p, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(B, (H // p) * (W // p), p * p * C)


def unpatchify(patches: torch.Tensor, p: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, L, p*p*3) -> (B, 3, H, W)."""
    B = patches.shape[0]
    h, w = grid
    x = patches.reshape(B, h, w, p, p, 3)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(B, 3, h * p, w * p)


class MAE(nn.Module):
    """FB-MAE with an InP-Net-compatible interface."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        D, Dd = config.embed_dim, config.decoder_embed_dim
        L = config.num_patches
        p = config.patch_size
        self.patch_embed = PatchEmbed(p, 3, D)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        # fixed, like FB-MAE: a parameter with requires_grad=False so that its checkpoints load as they are
        self.pos_embed = nn.Parameter(sincos_pos_embed(D, config.grid_size)[None], requires_grad=False)
        self.blocks = nn.ModuleList(Block(D, config.num_heads, config.mlp_ratio) for _ in range(config.depth))
        self.norm = nn.LayerNorm(D, eps=1e-6)
        self.decoder_embed = nn.Linear(D, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_pos_embed = nn.Parameter(sincos_pos_embed(Dd, config.grid_size)[None], requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            Block(Dd, config.decoder_num_heads, config.mlp_ratio) for _ in range(config.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(Dd, eps=1e-6)
        self.decoder_pred = nn.Linear(Dd, p * p * 3)
        self.static_shapes = False
        assert self.pos_embed.shape[1] == L + 1
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        init_vit_weights(self, self.patch_embed.proj)

    def _pos(self, table: nn.Parameter, dim: int, grid: tuple[int, int]) -> torch.Tensor:
        if tuple(grid) == tuple(self.config.grid_size):
            return table
        return sincos_pos_embed(dim, grid)[None].to(table)  # sin-cos extends to any grid exactly

    def forward_encoder(self, images: torch.Tensor, token_mask: torch.Tensor, grid: tuple[int, int]):
        """Visible patches (+ cls) through the encoder. Returns packed visible tokens (B, N, D) and cls (B,1,D)."""
        pos = self._pos(self.pos_embed, self.config.embed_dim, grid)
        x = self.patch_embed(images) + pos[:, 1:]
        packed = pack_visible(x, token_mask, full_length=self.static_shapes)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        seq = torch.cat([cls, packed.tokens], dim=1)  # (B, 1 + N, D)
        key_valid = torch.cat([torch.ones_like(packed.valid[:, :1]), packed.valid], dim=1)
        attn_mask = key_padding_to_attn_mask(key_valid)
        for block in self.blocks:
            seq = block(seq, attn_mask)
        seq = self.norm(seq)
        return VisibleTokens(seq[:, 1:], packed.ids, packed.valid), seq[:, :1]

    def forward_decoder(self, visible: VisibleTokens, cls: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Embed, put mask tokens at masked places, full self-attention, per-patch head: (B, L, p*p*3)."""
        Dd = self.config.decoder_embed_dim
        pos = self._pos(self.decoder_pos_embed, Dd, grid)
        B = cls.shape[0]
        L = grid[0] * grid[1]
        vis = VisibleTokens(self.decoder_embed(visible.tokens), visible.ids, visible.valid)
        tokens = scatter_to_grid(vis, vis.tokens, self.mask_token.expand(B, L, -1))
        seq = torch.cat([self.decoder_embed(cls), tokens], dim=1) + pos
        for block in self.decoder_blocks:
            seq = block(seq)
        return self.decoder_pred(self.decoder_norm(seq))[:, 1:]

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        cfg = self.config
        mask = check_inputs(images, mask, cfg.patch_size)
        p = cfg.patch_size
        grid = (images.shape[2] // p, images.shape[3] // p)
        token_mask = pixel_to_token_mask(mask, p, cfg.token_threshold)
        known = images * (1.0 - mask)  # the hole never reaches the network
        visible, cls = self.forward_encoder(known, token_mask, grid)
        patches = self.forward_decoder(visible, cls, grid)  # (B, L, p*p*3)
        prediction = unpatchify(patches, p, grid)
        if cfg.norm_pix_loss:
            # A normalised-patch prediction is not an image: undo it with the statistics of the known pixels
            # (per image), since the hole's own statistics are unknown at inference.
            mean, std = known_pixel_stats(images, mask)
            prediction = prediction * std + mean
        return InpaintOutput(prediction, composite(images, mask, prediction), token_mask)

    def patch_loss(self, images: torch.Tensor, mask: torch.Tensor, output: InpaintOutput) -> torch.Tensor:
        """FB-MAE's loss: per-patch MSE averaged over masked patches (all patches when none is masked,
        so that ratio 0 trains reconstruction instead of dividing by zero)."""
        p = self.config.patch_size
        target = patchify(images, p)  # (B, L, p*p*3)
        pred = output.prediction
        if self.config.norm_pix_loss:
            mean, std = known_pixel_stats(images, check_inputs(images, mask, p))
            pred = patchify((pred - mean) / std, p)  # back to the decoder's normalised space
            t_mean = target.mean(dim=-1, keepdim=True)
            t_var = target.var(dim=-1, keepdim=True)
            target = (target - t_mean) / (t_var + 1e-6).sqrt()
        else:
            pred = patchify(pred, p)
        per_patch = ((pred - target) ** 2).mean(dim=-1)  # (B, L)
        weight = output.token_mask.to(per_patch.dtype)
        total = weight.sum()
        if total == 0:
            return per_patch.mean()
        return (per_patch * weight).sum() / total


def known_pixel_stats(images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean and std (B,1,1,1) of the known (mask = 0) pixels."""
    keep = 1.0 - mask
    count = keep.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1.0) * 3
    mean = (images * keep).sum(dim=(1, 2, 3), keepdim=True) / count
    var = (((images - mean) * keep) ** 2).sum(dim=(1, 2, 3), keepdim=True) / count
    return mean, (var + 1e-6).sqrt()
