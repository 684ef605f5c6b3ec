"""The alignment projector: norm -> Linear -> GELU -> Linear (the reference's AlignProjector shape)."""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("layernorm", "batchnorm", "none")


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over the channel dim of [B, N, D] tokens (statistics over batch and tokens)."""

    def __init__(self, dim: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.transpose(1, 2)).transpose(1, 2)


def make_norm(kind: str, dim: int) -> nn.Module:
    """'layernorm' (reference code), 'batchnorm' (paper text) or 'none'."""
    if kind == "layernorm":
        return nn.LayerNorm(dim)
    if kind == "batchnorm":
        return TokenBatchNorm(dim)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"projector norm must be one of {NORMS}, got {kind!r}")


class AlignProjector(nn.Module):
    """Maps student tokens [B, N, D] to the teacher's channel count [B, N, C]."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None, norm: str = "layernorm"):
        super().__init__()
        hidden_dim = hidden_dim or out_dim
        self.norm = make_norm(norm, in_dim)
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, out_dim)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))
