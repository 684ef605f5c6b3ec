"""mini3d: a small VGGT-shaped multi-view teacher pretrained here on tabletop renders (depth, points, pose).
What it shares with mini2d (the frozen wrapper, weight files) lives in `teachers.mini`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from spatial_forcing.teachers.blocks import AlternatingBackbone, MiniConfig, UnpatchifyHead
from spatial_forcing.teachers.mini import MiniTeacher, build_mini


class Mini3D(nn.Module):
    """Backbone with cross-view attention plus pretraining heads: depth (+log-conf), points in the first
    camera's frame (+log-conf), and each view's pose in the first camera's frame (translation + 6D
    rotation)."""

    kind = "mini3d"

    def __init__(self, cfg: MiniConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = AlternatingBackbone(cfg, cross_view=True)
        self.head_layers = sorted({cfg.depth // 2 - 1, cfg.depth - 1} - {-1})  # DPT-lite: mid + last layer
        in_dim = 2 * cfg.dim * len(self.head_layers)
        self.depth_head = UnpatchifyHead(in_dim, 2, cfg.patch, cfg.head_hidden)
        self.point_head = UnpatchifyHead(in_dim, 4, cfg.patch, cfg.head_hidden)
        self.pose_head = nn.Sequential(
            nn.LayerNorm(2 * cfg.dim), nn.Linear(2 * cfg.dim, cfg.head_hidden), nn.GELU(),
            nn.Linear(cfg.head_hidden, 9),
        )

    @torch.no_grad()
    def init_output_bias(self, mean_depth: float, mean_point: Sequence[float]) -> None:
        """Start the depth and point heads at the training set's mean depth / mean point (metres)."""
        pp = self.cfg.patch ** 2
        self.depth_head.net[-1].bias[:pp] = mean_depth
        for c in range(3):
            self.point_head.net[-1].bias[c * pp:(c + 1) * pp] = float(mean_point[c])

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1] -> depth/depth_logconf [B,V,H,W], points [B,V,H,W,3],
        points_logconf [B,V,H,W], pose [B,V,9] (translation 3, rotation 6D = first two matrix columns)."""
        b, v, _, hh, ww = images.shape
        p = self.cfg.patch
        h, w = hh // p, ww // p
        patches = self.backbone.patch_embed(images.flatten(0, 1))
        outs = self.backbone(patches, b, v, h, w, keep=set(self.head_layers))
        s = self.backbone.num_special
        feats = torch.cat([outs[i][:, :, s:] for i in self.head_layers], dim=-1).flatten(0, 1)
        depth = self.depth_head(feats, h, w).view(b, v, 2, hh, ww)
        points = self.point_head(feats, h, w).view(b, v, 4, hh, ww)
        pose = self.pose_head(outs[self.cfg.depth - 1][:, :, 0])
        return {
            "depth": depth[:, :, 0], "depth_logconf": depth[:, :, 1],
            "points": points[:, :, :3].permute(0, 1, 3, 4, 2), "points_logconf": points[:, :, 3],
            "pose": pose,
        }


def build(weights: str | Path | None = None, seed: int | None = None, **kw: Any) -> MiniTeacher:
    """The mini3d teacher (registry factory; `weights` as in teachers.registry)."""
    return build_mini(Mini3D, weights, seed, **kw)
