"""The cosine alignment loss: 1 - cos, masked mean over tokens, then mean over the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_token_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """values [B, N], mask [B, N] (True = counts) -> scalar: per sample the mean over valid tokens, then the
    mean over the samples that have a valid token (0 when none has)."""
    if mask is None:
        mask = torch.ones_like(values, dtype=torch.bool)
    weights = mask.to(values.dtype)
    count = weights.sum(dim=1)
    per_sample = (values * weights).sum(dim=1) / count.clamp(min=1.0)
    has_tokens = count > 0
    return (per_sample * has_tokens).sum() / has_tokens.sum().clamp(min=1)


def cosine_align_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """pred, target [B, N, C]; mask [B, N] (True = counts). Returns (loss, mean cosine), both scalars.

    Per sample: 1 - mean over valid tokens of cos(pred_i, target_i); samples with no valid token
    contribute 0 and are left out of the batch mean.
    """
    if pred.shape != target.shape:
        raise ValueError(f"projected tokens {tuple(pred.shape)} and targets {tuple(target.shape)} differ")
    cos = F.cosine_similarity(pred.float(), target.float(), dim=-1, eps=1e-8)  # [B, N]
    return masked_token_mean(1.0 - cos, mask), masked_token_mean(cos, mask).detach()
