"""InP-Net: visible-only ViT encoder + mask tokens + masked-attention fill + skip-fused conv decoder."""

from __future__ import annotations

import copy

import torch
from torch import nn

from inpnet.config import ModelConfig
from inpnet.masks import pixel_to_token_mask
from inpnet.models.decoder import ConvDecoder
from inpnet.models.encoder import (
    PatchEmbed,
    VisibleEncoder,
    VisibleTokens,
    pack_visible,
    resample_pos_embed,
    scatter_to_grid,
)
from inpnet.models.inputs import check_inputs
from inpnet.models.layers import FillBlock, init_vit_weights, key_padding_to_attn_mask
from inpnet.models.output import InpaintOutput, composite
from inpnet.models.prefill import prefill


class InpNet(nn.Module):
    """The paper's model. `forward(images (B,3,H,W) in [0,1], mask (B,1,H,W), 1 = hole) -> InpaintOutput`.

    Any H, W divisible by the patch size work: the learned position table is resampled to the grid.
    Ratio 0 (an all-zero mask) keeps every token: the same network reconstructs the whole image.
    With `prefill="harmonic"` the hole is first filled smoothly (no parameters); the network sees that
    image instead of zeros and its output is a correction added to it (the head starts at zero).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        D = config.embed_dim
        self.patch_embed = PatchEmbed(config.patch_size, config.in_chans, D)
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_patches, D))
        skip_layers = config.resolved_skip_layers() if config.skip else ()
        self.encoder = VisibleEncoder(D, config.depth, config.num_heads, config.mlp_ratio, skip_layers)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D))
        self.fill_blocks = nn.ModuleList(FillBlock(D, config.num_heads, config.mlp_ratio) for _ in range(config.fill_depth))
        self.fill_norm = nn.LayerNorm(D, eps=1e-6)
        self.decoder = ConvDecoder(
            embed_dim=D,
            channels=config.resolved_decoder_channels(),
            num_skips=len(skip_layers),
            norm=config.decoder_norm,
            pixel_channels=config.pixel_skip_channels if config.pixel_skip else 0,
        )
        self.static_shapes = False  # True pads visible tokens to L (ONNX export: no data-dependent shapes)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        init_vit_weights(self, self.patch_embed.proj)
        if self.config.prefill != "none":  # start exactly at the prefill; training learns the correction
            nn.init.zeros_(self.decoder.head.weight)
            nn.init.zeros_(self.decoder.head.bias)

    def at_size(self, image_size: int | tuple[int, int]) -> InpNet:
        """A copy of this model whose own size (`config.image_size`: the fixed size of an ONNX export, the
        window `InpaintPipeline` fills) is `image_size`: the position table resampled once to the new grid,
        as `forward` would do on every call at that size, so both give the same output there."""
        config = self.config.replace(image_size=image_size)
        config.validate()
        # a copy of every module as it is (a model whose decoder BatchNorms are folded for inference,
        # `fold_batchnorms`, has another state-dict layout than a fresh InpNet(config)), with the new
        # config and the position table resampled to the new grid
        resized = copy.deepcopy(self)
        resized.config = config
        with torch.no_grad():
            table = resample_pos_embed(self.pos_embed.detach(), self.config.grid_size, config.grid_size)
        resized.pos_embed = nn.Parameter(table.clone(), requires_grad=self.pos_embed.requires_grad)
        return resized.train(self.training)

    # ---- stages ---------------------------------------------------------------------------
    def prefilled(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W): hole pixels zeroed (never seen by the network), or replaced by the smooth prefill."""
        return prefill(images, mask, self.config.prefill, self.config.prefill_sweeps)

    def model_input(self, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encoder input from the known (or prefilled) image; with 4 input channels the mask is appended."""
        if self.config.in_chans == 4:
            return torch.cat([known, mask], dim=1)  # (B, 4, H, W)
        return known  # (B, 3, H, W)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, D) patch tokens + position embedding for this grid."""
        p = self.config.patch_size
        grid = (x.shape[2] // p, x.shape[3] // p)
        pos = resample_pos_embed(self.pos_embed, self.config.grid_size, grid)
        return self.patch_embed(x) + pos

    def forward_encoder(self, tokens: torch.Tensor, token_mask: torch.Tensor):
        """Pack the visible tokens (B, N, D) and run the transformer over them only."""
        packed = pack_visible(tokens, token_mask, full_length=self.static_shapes)
        return self.encoder(packed)

    def forward_fill(self, visible: VisibleTokens, pos: torch.Tensor) -> torch.Tensor:
        """Grid of tokens (B, L, D): encoder outputs at visible places, mask token + position elsewhere,
        then every token attends to the visible ones (masked attention)."""
        B = visible.tokens.shape[0]
        fill = (self.mask_token + pos).expand(B, -1, -1)
        grid = scatter_to_grid(visible, visible.tokens, fill)
        attn_mask = key_padding_to_attn_mask(visible.key_valid())
        for block in self.fill_blocks:
            grid = block(grid, visible.tokens, attn_mask)
        return self.fill_norm(grid)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        cfg = self.config
        mask = check_inputs(images, mask, cfg.patch_size)
        token_mask = pixel_to_token_mask(mask, cfg.patch_size, cfg.token_threshold)  # (B, L)
        known = self.prefilled(images, mask)  # (B, 3, H, W)
        tokens = self.embed(self.model_input(known, mask))  # (B, L, D)
        packed = pack_visible(tokens, token_mask, full_length=self.static_shapes)
        return self.forward_packed(images, mask, known, packed, token_mask)

    def forward_packed(self, images: torch.Tensor, mask: torch.Tensor, known: torch.Tensor,
                       packed: VisibleTokens, token_mask: torch.Tensor | None = None) -> InpaintOutput:
        """Everything after the prefill and the packing of the visible tokens `packed` (B, N, D): encoder,
        fill stage, decoder, composite. No shape here depends on the data (the ONNX graph is this part)."""
        cfg = self.config
        h, w = images.shape[2] // cfg.patch_size, images.shape[3] // cfg.patch_size
        enc = self.encoder(packed)
        pos = resample_pos_embed(self.pos_embed, cfg.grid_size, (h, w))
        grid = self.forward_fill(enc.visible, pos)  # (B, L, D)
        zeros = torch.zeros_like(grid)
        skip_grids = [self._to_map(scatter_to_grid(enc.visible, s, zeros), h, w) for s in enc.skips]
        pixels = torch.cat([known, mask], dim=1) if cfg.pixel_skip else None
        prediction = self.decoder(self._to_map(grid, h, w), skip_grids, pixels)  # (B, 3, H, W)
        if cfg.prefill != "none":
            prediction = prediction + known  # the decoder predicts a correction to the prefill
        return InpaintOutput(prediction, composite(images, mask, prediction), token_mask)

    @staticmethod
    def _to_map(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
        # (B, L, D) -> (B, D, h, w)
        return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
