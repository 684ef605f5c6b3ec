"""Optional normalisation of raw teacher features before they become alignment targets.

Teacher patch features are dominated by a part shared by every frame at a given position (a per-position
mean); only a small residual is sample-specific. The modes remove the shared part in two ways:

- "none": the paper's raw target (identity).
- "token_mean": iREPA's spatial normalisation, per sample and view: x - gamma * (mean over the h*w tokens),
  then divided by the per-channel (population) std over the h*w tokens.
- "position_mean": (x - mean_p) / std with dataset statistics (`FeatureStats`): the per-position mean over
  a dataset and the per-channel std of the residual, so the residual has unit variance per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TARGET_NORMS = ("none", "token_mean", "position_mean")


@dataclass
class FeatureStats:
    """Dataset statistics of raw teacher features [N, V, h, w, C]."""

    mean: torch.Tensor  # [V, h, w, C] per-position mean over all frames
    std: torch.Tensor  # [C] per-channel std of the residual f - mean over all frames, views and positions
    frames: int = 0  # number of frames the statistics were computed from

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Flat name -> tensor dict (for safetensors)."""
        return {"mean": self.mean.contiguous(), "std": self.std.contiguous(),
                "frames": torch.tensor([self.frames], dtype=torch.int64)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "FeatureStats":
        """Inverse of `to_tensors`; raises ValueError when a tensor is missing or the shapes disagree."""
        missing = sorted({"mean", "std", "frames"} - set(tensors))
        if missing:
            raise ValueError(f"feature statistics lack tensor(s) {missing}")
        mean, std = tensors["mean"].float(), tensors["std"].float()
        if mean.dim() != 4 or std.shape != mean.shape[-1:]:
            raise ValueError(f"feature statistics: mean {tuple(mean.shape)} must be [V, h, w, C] and std "
                             f"{tuple(std.shape)} must be [C]")
        return cls(mean=mean, std=std, frames=int(tensors["frames"].reshape(-1)[0]))

    def is_finite(self) -> bool:
        return bool(torch.isfinite(self.mean).all() and torch.isfinite(self.std).all())


class FeatureStatsAccumulator:
    """Streams batches of raw features [B, V, h, w, C] into `FeatureStats` (float64 sums).

    The residual variance per channel is E[f^2] - mean over positions of mean_p^2, both exact sums, so one
    pass over the data gives the same statistics as a two-pass computation (up to float64 rounding).
    """

    def __init__(self) -> None:
        self.count = 0
        self.sum: torch.Tensor | None = None  # [V, h, w, C] sum of f
        self.sum_sq: torch.Tensor | None = None  # [C] sum of f^2 over frames, views and positions

    def update(self, feats: torch.Tensor) -> None:
        if feats.dim() != 5:
            raise ValueError(f"teacher features must be [B, V, h, w, C], got shape {tuple(feats.shape)}")
        x = feats.detach().to(torch.float64)
        if self.sum is None:
            self.sum = torch.zeros(x.shape[1:], dtype=torch.float64, device=x.device)
            self.sum_sq = torch.zeros(x.shape[-1], dtype=torch.float64, device=x.device)
        elif x.shape[1:] != self.sum.shape:
            raise ValueError(f"teacher features {tuple(x.shape)} do not match earlier batches "
                             f"[B, {', '.join(map(str, self.sum.shape))}]")
        self.sum += x.sum(dim=0)
        self.sum_sq += x.square().sum(dim=(0, 1, 2, 3))
        self.count += x.shape[0]

    def result(self) -> FeatureStats:
        if self.sum is None or self.count == 0:
            raise ValueError("no teacher features were accumulated")
        mean = self.sum / self.count
        positions = mean.shape[0] * mean.shape[1] * mean.shape[2]
        var = self.sum_sq / (self.count * positions) - mean.square().mean(dim=(0, 1, 2))
        return FeatureStats(mean=mean.float(), std=var.clamp(min=0.0).sqrt().float(), frames=self.count)


def normalize_features(feats: torch.Tensor, mode: str, gamma: float = 0.6, stats: FeatureStats | None = None,
                       eps: float = 1e-6) -> torch.Tensor:
    """Raw teacher features [B, V, h, w, C] -> normalised features of the same shape (float32 unless "none").

    mode: one of TARGET_NORMS. gamma: fraction of the token mean removed by "token_mean" (iREPA: 0.6).
    stats: dataset statistics, required by "position_mean" (same V, h, w and C as `feats`).
    """
    if mode == "none":
        return feats
    if feats.dim() != 5:
        raise ValueError(f"teacher features must be [B, V, h, w, C], got shape {tuple(feats.shape)}")
    x = feats.float()
    if mode == "token_mean":
        x = x - gamma * x.mean(dim=(2, 3), keepdim=True)
        return x / (x.std(dim=(2, 3), keepdim=True, correction=0) + eps)
    if mode == "position_mean":
        if stats is None:
            raise ValueError("target_norm 'position_mean' needs dataset feature statistics; none were set")
        if tuple(stats.mean.shape) != tuple(x.shape[1:]) or tuple(stats.std.shape) != (x.shape[-1],):
            raise ValueError(f"feature statistics (mean {tuple(stats.mean.shape)}, std "
                             f"{tuple(stats.std.shape)}) do not match teacher features [B, V, h, w, C] = "
                             f"{tuple(x.shape)}")
        mean, std = stats.mean.to(x.device, torch.float32), stats.std.to(x.device, torch.float32)
        return (x - mean) / std.clamp(min=eps)
    raise ValueError(f"target norm must be one of {TARGET_NORMS}, got {mode!r}")
