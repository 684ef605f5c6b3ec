"""A small DPT-style depth head trained from scratch on frozen tokens (the SF authors' probe, scaled down).

Four token maps (the aligned layer and the 3 before it, shallowest first), each [B, h*w, D] of one view:
1. each standardised per channel (training-token statistics) and through its own 2-layer MLP
   (Linear -> GELU -> Linear) to `width` channels;
2. reassembled into feature maps [B, width, h, w] and resampled to 4x, 2x, 1x and 1/2x the token grid
   (transposed convs up, a strided conv down), as DPT does for its four ViT layers;
3. fused coarse to fine: from the deepest (1/2x) map, each fusion block adds the next finer map through a
   residual conv unit, refines, and upsamples x2;
4. a conv head gives log-depth at 8x the grid, bilinearly resized to the output size; depth = exp(it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TokenMLP(nn.Module):
    """The 2-layer MLP of one probed layer, after a fixed per-channel standardisation (`set_stats`, from the
    training tokens; not a LayerNorm, which would divide out a token's scale, and with it, depth)."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.mlp = nn.Sequential(nn.Linear(dim, width), nn.GELU(), nn.Linear(width, width))

    def set_stats(self, tokens: torch.Tensor) -> None:
        flat = tokens.reshape(-1, tokens.shape[-1]).float()
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0) + 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((x - self.mean) / self.std)


class ResidualConv(nn.Module):
    """x + conv(relu(conv(relu(x)))), DPT's residual conv unit."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Fusion(nn.Module):
    """(coarser path, this scale's map) -> refined, upsampled x2."""

    def __init__(self, width: int, upsample: bool = True):
        super().__init__()
        self.skip = ResidualConv(width)
        self.refine = ResidualConv(width)
        self.out = nn.Conv2d(width, width, 1)
        self.upsample = upsample

    def forward(self, path: torch.Tensor | None, skip: torch.Tensor) -> torch.Tensor:
        x = self.refine(self.skip(skip) if path is None else path + self.skip(skip))
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out(x)


class DepthProbe(nn.Module):
    """tokens: 4 tensors [B, h*w, D_i] (shallowest first) of one view each -> depth [B, *out_hw] (> 0)."""

    def __init__(self, dims: list[int], grid: tuple[int, int], out_hw: tuple[int, int], width: int = 32):
        super().__init__()
        if len(dims) != 4:
            raise ValueError(f"DepthProbe takes 4 token maps, got {len(dims)}")
        self.grid, self.out_hw = tuple(grid), tuple(out_hw)
        self.mlps = nn.ModuleList(TokenMLP(d, width) for d in dims)
        self.resample = nn.ModuleList([nn.ConvTranspose2d(width, width, 4, stride=4),  # 4x
                                       nn.ConvTranspose2d(width, width, 2, stride=2),  # 2x
                                       nn.Conv2d(width, width, 1),  # 1x
                                       nn.Conv2d(width, width, 3, stride=2, padding=1)])  # 1/2x
        self.fusions = nn.ModuleList(Fusion(width, upsample=i < len(dims) - 1) for i in range(len(dims)))
        self.head = nn.Sequential(nn.Conv2d(width, width // 2, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width // 2, 1, 1))

    def set_stats(self, tokens: list[torch.Tensor], depth: torch.Tensor) -> None:
        """Standardise each layer's tokens with these (training) tokens' channel statistics; start the output
        at their mean log-depth (valid pixels of `depth`)."""
        for mlp, x in zip(self.mlps, tokens):
            mlp.set_stats(x)
        with torch.no_grad():
            self.head[-1].bias.fill_(float(depth.log().mean()))

    def forward(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        h, w = self.grid
        maps = []
        for x, mlp, resample in zip(tokens, self.mlps, self.resample):
            x = mlp(x).transpose(1, 2).reshape(x.shape[0], -1, h, w)  # reassemble the token grid
            maps.append(resample(x))
        path = None
        for fusion, skip in zip(self.fusions, reversed(maps)):  # coarse (deepest) to fine
            if path is not None and path.shape[-2:] != skip.shape[-2:]:
                path = F.interpolate(path, size=skip.shape[-2:], mode="bilinear", align_corners=True)
            path = fusion(path, skip)
        log_depth = F.interpolate(self.head(path), size=self.out_hw, mode="bilinear", align_corners=True)
        return log_depth[:, 0].exp()
