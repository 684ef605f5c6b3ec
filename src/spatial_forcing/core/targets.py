"""Alignment targets: teacher patch grids (+ PE) resampled to the student's patch grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spatial_forcing.core.pe import sincos_pe_2d
from spatial_forcing.core.target_norm import FeatureStats, normalize_features


def resample_grid(feats: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=True) resampling of [N, h, w, C] grids to [N, size[0], size[1], C]."""
    if tuple(feats.shape[1:3]) == tuple(size):
        return feats
    x = feats.permute(0, 3, 1, 2)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    return x.permute(0, 2, 3, 1)


def build_targets(
    feats: torch.Tensor,
    student_grid: tuple[int, int],
    use_pe: bool = True,
    pe_scale: float = 0.1,
    aspect: float = 1.0,
    view_valid: torch.Tensor | None = None,
    pixel_valid: torch.Tensor | None = None,
    norm: str = "none",
    gamma: float = 0.6,
    stats: FeatureStats | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher features [B, V, h, w, C] -> (targets [B, V*h'*w', C], mask [B, V*h'*w'] bool).

    Order: `normalize_features(feats, norm, gamma, stats)` on the raw features at the teacher grid, then
    the PE, then the resampling. The PE is added at the teacher grid, before resampling, exactly as the
    reference; with norm="position_mean" it is added to unit-variance residuals (so relative to the
    target it weighs more than on raw features). Tokens are ordered view-major, then row-major.
    `view_valid` [B, V] marks present cameras; `pixel_valid` [B, V, H, W] marks real (non-letterbox)
    pixels and is reduced to the student grid by nearest interpolation.
    """
    if feats.dim() != 5:
        raise ValueError(f"teacher features must be [B, V, h, w, C], got shape {tuple(feats.shape)}")
    b, v, h, w, c = feats.shape
    x = normalize_features(feats, norm, gamma, stats).float().reshape(b * v, h, w, c)
    if use_pe:
        x = x + sincos_pe_2d(h, w, c, aspect=aspect, scale=pe_scale).to(x.device)
    x = resample_grid(x, student_grid)
    hs, ws = student_grid
    targets = x.reshape(b, v * hs * ws, c)
    mask = torch.ones(b, v, hs, ws, dtype=torch.bool, device=feats.device)
    if pixel_valid is not None:
        pv = pixel_valid.reshape(b * v, 1, *pixel_valid.shape[-2:]).float()
        mask &= F.interpolate(pv, size=student_grid, mode="nearest").reshape(b, v, hs, ws).bool()
    if view_valid is not None:
        mask &= view_valid.bool()[:, :, None, None]
    return targets, mask.reshape(b, v * hs * ws)
