"""The fixed 2D sin-cos positional encoding added to teacher features (VGGT DPT-head convention)."""

from __future__ import annotations

import math

import torch


def uv_grid(h: int, w: int, aspect: float = 1.0) -> torch.Tensor:
    """Centred (x, y) coordinates of an h x w patch grid, normalised by the image diagonal: [h, w, 2].

    x spans +-aspect/diag * (w-1)/w and y spans +-1/diag * (h-1)/h with diag = sqrt(aspect^2 + 1).
    """
    diag = math.sqrt(aspect * aspect + 1.0)
    span_x, span_y = aspect / diag, 1.0 / diag
    xs = torch.linspace(-span_x * (w - 1) / w, span_x * (w - 1) / w, w, dtype=torch.float64)
    ys = torch.linspace(-span_y * (h - 1) / h, span_y * (h - 1) / h, h, dtype=torch.float64)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


def sincos_1d(pos: torch.Tensor, dim: int, omega_0: float = 100.0) -> torch.Tensor:
    """[N] positions -> [N, dim]: first dim/2 channels sin(p*w_k), last dim/2 cos(p*w_k), w_k = omega_0^(-2k/dim)."""
    k = torch.arange(dim // 2, dtype=torch.float64)
    omega = omega_0 ** (-k / (dim / 2.0))
    angles = pos.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def sincos_pe_2d(h: int, w: int, dim: int, aspect: float = 1.0, scale: float = 0.1,
                 omega_0: float = 100.0) -> torch.Tensor:
    """The 2D encoding [h, w, dim]: first dim/2 channels encode x, last dim/2 encode y, times `scale`.

    Matches the reference: omega_k = omega_0^(-k/(dim/4)), k = 0..dim/4-1, for each of x and y.
    """
    if dim % 4 != 0:
        raise ValueError(f"positional encoding needs a channel count divisible by 4, got {dim}")
    grid = uv_grid(h, w, aspect).reshape(-1, 2)
    emb = torch.cat([sincos_1d(grid[:, 0], dim // 2, omega_0), sincos_1d(grid[:, 1], dim // 2, omega_0)], -1)
    return (emb * scale).reshape(h, w, dim).to(torch.float32)
