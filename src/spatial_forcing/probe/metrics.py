"""Depth metrics over valid pixels (standard definitions): AbsRel = mean |pred - gt| / gt, and
delta<1.25 = the fraction of pixels with max(pred / gt, gt / pred) < 1.25."""

from __future__ import annotations

import torch


def valid_depth(depth: torch.Tensor, max_depth: float) -> torch.Tensor:
    """Pixels with a usable ground truth: finite, > 0 and < max_depth (beyond it: background / far plane)."""
    return torch.isfinite(depth) & (depth > 0) & (depth < max_depth)


def depth_metrics(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> dict[str, float]:
    """{"abs_rel", "delta1", "pixels"} over the valid pixels of pred / gt (any equal shapes)."""
    p, g = pred[valid].double(), gt[valid].double()
    if not len(g):
        raise ValueError("depth_metrics: no valid pixel")
    ratio = torch.maximum(p / g, g / p)
    return {"abs_rel": float(((p - g).abs() / g).mean()), "delta1": float((ratio < 1.25).double().mean()),
            "pixels": int(len(g))}
