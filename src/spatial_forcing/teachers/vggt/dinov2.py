"""DINOv2 ViT with register tokens, used as VGGT's patch embed (output: final-normed patch tokens)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spatial_forcing.teachers.vggt.config import AggregatorConfig
from spatial_forcing.teachers.vggt.layers import Block


class PatchConv(nn.Module):
    """Non-overlapping patchify convolution: [N, 3, H, W] -> [N, (H/p)*(W/p), C] row-major."""

    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoV2Embed(nn.Module):
    """DINOv2 ViT (LN eps 1e-6, LayerScale, no QK norm, no RoPE) with CLS + register tokens.

    The learned pos_embed covers CLS + (img_size/patch)^2 patches; for another grid it is resized
    bicubically with anti-aliasing (no offset), in float32. Registers get no positional embedding.
    """

    def __init__(self, cfg: AggregatorConfig) -> None:
        super().__init__()
        dim, grid = cfg.embed_dim, cfg.img_size // cfg.patch_size
        self.patch_size = cfg.patch_size
        self.num_register_tokens = cfg.num_register_tokens
        self.patch_embed = PatchConv(cfg.patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, cfg.num_register_tokens, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # unused at inference; part of the checkpoint
        self.blocks = nn.ModuleList(
            Block(dim, cfg.patch_embed_heads, cfg.mlp_ratio, cfg.patch_init_values, norm_eps=1e-6)
            for _ in range(cfg.patch_embed_depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def _pos_embed(self, gh: int, gw: int, dtype: torch.dtype) -> torch.Tensor:
        """pos_embed for a gh x gw grid: [1, 1 + gh*gw, C] (a resized one is cast to `dtype`)."""
        n = self.pos_embed.shape[1] - 1
        side = int(math.isqrt(n))
        if gh == side and gw == side:
            return self.pos_embed
        pe = self.pos_embed.float()
        grid = pe[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", antialias=True)
        grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)
        return torch.cat([pe[:, :1], grid], dim=1).to(dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images [N, 3, H, W] (normalised) -> final-normed patch tokens [N, h*w, C]."""
        n, _, height, width = images.shape
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(n, -1, -1), x], dim=1)
        x = x + self._pos_embed(height // self.patch_size, width // self.patch_size, x.dtype)
        x = torch.cat([x[:, :1], self.register_tokens.expand(n, -1, -1), x[:, 1:]], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 1 + self.num_register_tokens :]
