"""2D rotary position embedding of the VGGT frame/global blocks.

The head dimension is split in two halves: the first half is rotated by the token's row (y), the
second by its column (x). Each half uses the rotate-half scheme with frequencies base^(-2i/d), i < d/2,
duplicated to cover the half. Patch tokens sit at (row + 1, col + 1); special tokens at (0, 0), which is
the identity rotation.
"""

from __future__ import annotations

import torch


def patch_positions(
    h: int, w: int, num_special: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """[num_special + h*w, 2] long (y, x) positions: zeros for special tokens, (row+1, col+1) row-major."""
    rows = torch.arange(h, device=device).repeat_interleave(w)
    cols = torch.arange(w, device=device).repeat(h)
    grid = torch.stack([rows, cols], dim=-1) + 1
    special = torch.zeros(num_special, 2, dtype=grid.dtype, device=device)
    return torch.cat([special, grid], dim=0)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(a, b) -> (-b, a) on the last dimension split in two halves."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def _rope_1d(x: torch.Tensor, pos: torch.Tensor, base: float) -> torch.Tensor:
    """Rotate x [..., N, d] by positions pos [B, N] (broadcast over the head axis of x [B, H, N, d])."""
    d = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, device=x.device).float() / d))
    angles = pos.to(torch.float32)[..., None] * inv_freq  # [B, N, d/2]
    angles = torch.cat([angles, angles], dim=-1)[:, None]  # [B, 1, N, d]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    return x * cos + _rotate_half(x) * sin


def apply_rope_2d(x: torch.Tensor, pos: torch.Tensor, base: float = 100.0) -> torch.Tensor:
    """Apply 2D RoPE to x [B, H, N, D] (D divisible by 4) with positions pos [B, N, 2] = (y, x)."""
    if x.shape[-1] % 4:
        raise ValueError(f"2D RoPE needs a head dim divisible by 4, got {x.shape[-1]}")
    y_part, x_part = x.chunk(2, dim=-1)
    return torch.cat([_rope_1d(y_part, pos[..., 0], base), _rope_1d(x_part, pos[..., 1], base)], dim=-1)
