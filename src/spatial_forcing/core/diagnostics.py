"""How much of the alignment is position-only: the cosine a constant per-position predictor gets, and the
cosine of the prediction on the sample-specific residual (target minus its per-position mean)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spatial_forcing.core.loss import masked_token_mean


@torch.no_grad()
def position_diagnostics(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None,
                         position_mean: torch.Tensor) -> dict[str, float]:
    """pred, target [B, N, C]; mask [B, N] or None; position_mean [N, C] (dataset mean target per token).

    position_only_cos: masked mean (as the loss: per sample over valid tokens, then over samples) of
    cos(position_mean, target). residual_cos: the same mean of cos(pred - position_mean, target -
    position_mean). A zero vector has cosine 0 with anything.
    """
    if pred.shape != target.shape or position_mean.shape != target.shape[1:]:
        raise ValueError(f"position diagnostics: pred {tuple(pred.shape)}, target {tuple(target.shape)} and "
                         f"position mean {tuple(position_mean.shape)} must be [B, N, C], [B, N, C], [N, C]")
    pred, target = pred.float(), target.float()
    mu = position_mean.to(target.device, torch.float32).unsqueeze(0)
    pos_cos = F.cosine_similarity(mu.expand_as(target), target, dim=-1, eps=1e-8)
    res_cos = F.cosine_similarity(pred - mu, target - mu, dim=-1, eps=1e-8)
    return {"position_only_cos": float(masked_token_mean(pos_cos, mask)),
            "residual_cos": float(masked_token_mean(res_cos, mask))}


class PositionMeanAccumulator:
    """Streams targets [B, N, C] (all tokens valid) into their mean per token and the position-only cosine.

    One pass: with the sums of the targets t_i and of the unit targets t_i / |t_i|, the mean over frames of
    cos(mu, t_i) per token is (mu / |mu|) . mean_i (t_i / |t_i|); the result averages it over tokens.
    """

    def __init__(self) -> None:
        self.count = 0
        self.sum: torch.Tensor | None = None  # [N, C] float64 sum of the targets
        self.unit_sum: torch.Tensor | None = None  # [N, C] float64 sum of the unit-norm targets

    @torch.no_grad()
    def update(self, targets: torch.Tensor) -> None:
        t = targets.detach().double()
        s, u = t.sum(dim=0), F.normalize(t, dim=-1, eps=1e-8).sum(dim=0)
        if self.sum is None:
            self.sum, self.unit_sum = s, u
        else:
            self.sum, self.unit_sum = self.sum + s, self.unit_sum + u
        self.count += t.shape[0]

    def result(self) -> tuple[torch.Tensor, float]:
        """(mean target per token [N, C] float32, mean position-only cosine)."""
        if self.sum is None or self.count == 0:
            raise ValueError("no targets were accumulated")
        mean = self.sum / self.count
        cos = (F.normalize(mean, dim=-1, eps=1e-8) * self.unit_sum / self.count).sum(dim=-1).mean()
        return mean.float(), float(cos)


def position_variance_fraction(mean: torch.Tensor, std: torch.Tensor) -> float:
    """Fraction of the feature variance explained by the per-position mean, from dataset statistics
    (`FeatureStats.mean` [V, h, w, C], `.std` [C]): 1 - E||f - mu_p||^2 / E||f - mu||^2, where mu is the mean
    over all frames and positions. E||f - mu||^2 = E||f - mu_p||^2 + the variance of mu_p over positions."""
    within = std.double().square().sum()
    between = mean.double().flatten(0, -2).var(dim=0, correction=0).sum()
    total = within + between
    return float(between / total) if total > 0 else 0.0
