"""VGGT input preprocessing: bicubic resize to a square side (518 by default), letterboxing non-square
images with white (1.0) padding, plus a validity mask of real pixels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize [N, C, H, W] (align_corners=False, no antialias, no clamp), as the reference."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def _resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize of a bool mask [N, H, W]."""
    if tuple(mask.shape[-2:]) == size:
        return mask
    return F.interpolate(mask[:, None].float(), size=size, mode="nearest")[:, 0] > 0.5


def letterbox(
    images: torch.Tensor, side: int, valid: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """images [N, 3, H, W] in [0, 1] -> ([N, 3, side, side], valid [N, side, side] bool).

    Pixels outside `valid` (if given) are painted white first. Square images are resized to side x side;
    others are scaled so the longer edge is `side`, centred, and padded with white.
    """
    n, _, height, width = images.shape
    if valid is not None:
        images = torch.where(valid[:, None], images, torch.ones((), dtype=images.dtype, device=images.device))
    else:
        valid = torch.ones(n, height, width, dtype=torch.bool, device=images.device)
    if height == width:
        return _resize(images, (side, side)), _resize_mask(valid, (side, side))
    scale = side / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    top, left = (side - new_h) // 2, (side - new_w) // 2
    out = images.new_ones(n, 3, side, side)
    out[:, :, top : top + new_h, left : left + new_w] = _resize(images, (new_h, new_w))
    mask = torch.zeros(n, side, side, dtype=torch.bool, device=images.device)
    mask[:, top : top + new_h, left : left + new_w] = _resize_mask(valid, (new_h, new_w))
    return out, mask


def patch_mask(pixel_mask: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[..., H, W] pixel validity -> [..., H/p, W/p] patch validity (nearest: the patch's centre pixel)."""
    c = patch_size // 2
    return pixel_mask[..., c::patch_size, c::patch_size]
