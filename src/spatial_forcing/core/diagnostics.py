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
