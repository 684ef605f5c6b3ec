"""mini2d: the 2D control teacher. Same backbone size as mini3d, but no cross-view attention and a purely
2D objective: masked-image reconstruction per view (SimMIM-style: masked patches become a learned mask
token, the head reconstructs their per-patch-normalised pixels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from spatial_forcing.teachers.blocks import AlternatingBackbone, MiniConfig, UnpatchifyHead
from spatial_forcing.teachers.mini import MiniTeacher, build_mini


class Mini2D(nn.Module):
    """Per-view backbone (both blocks of each pair attend within one view) plus a pixel head."""

    kind = "mini2d"

    def __init__(self, cfg: MiniConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = AlternatingBackbone(cfg, cross_view=False)
        self.mask_token = nn.Parameter(torch.randn(cfg.dim) * 0.02)
        self.pixel_head = UnpatchifyHead(2 * cfg.dim, 3, cfg.patch, cfg.head_hidden)

    def random_mask(self, n: int, tokens: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[n, tokens] bool, exactly round(mask_ratio * tokens) True per row."""
        k = max(1, round(self.cfg.mask_ratio * tokens))
        order = torch.rand(n, tokens, generator=generator).argsort(dim=1)
        mask = torch.zeros(n, tokens, dtype=torch.bool)
        mask.scatter_(1, order[:, :k], True)
        return mask

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1]; mask [B*V, h*w] bool (True = hidden; None = no masking)
        -> {"pixels": [B*V, 3, H, W] reconstruction (per-patch-normalised space), "mask": mask}."""
        b, v, _, hh, ww = images.shape
        h, w = hh // self.cfg.patch, ww // self.cfg.patch
        patches = self.backbone.patch_embed(images.flatten(0, 1))
        if mask is None:
            mask = torch.zeros(b * v, h * w, dtype=torch.bool, device=images.device)
        patches = torch.where(mask[..., None], self.mask_token.to(patches.dtype), patches)
        last = self.cfg.depth - 1
        feats = self.backbone(patches, b, v, h, w, keep={last})[last][:, :, self.backbone.num_special:]
        return {"pixels": self.pixel_head(feats.flatten(0, 1), h, w), "mask": mask}


def build(weights: str | Path | None = None, seed: int | None = None, **kw: Any) -> MiniTeacher:
    """The mini2d teacher (registry factory; `weights` as in teachers.registry)."""
    return build_mini(Mini2D, weights, seed, **kw)
