"""Held-out metrics: mini3d depth error against a mean-depth-map baseline, mini2d reconstruction loss, vit2d
reconstruction loss against the predict-each-patch's-mean baseline."""

from __future__ import annotations

import torch
from torch import nn

from spatial_forcing.teachers.pretrain.losses import mini2d_loss
from spatial_forcing.vla.vision_pretrain import masked_mse, patch_targets


def depth_errors(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> dict[str, float]:
    """abs rel and RMSE (metres) over valid pixels; pred/gt/valid broadcastable [N, V, H, W]."""
    pred, gt = torch.broadcast_to(pred, gt.shape), gt
    diff = (pred - gt)[valid]
    return {"abs_rel": (diff.abs() / gt[valid]).mean().item(), "rmse_m": diff.pow(2).mean().sqrt().item()}


def mean_depth_map(depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-view, per-pixel mean of valid training depths [V, H, W] (the trivial baseline)."""
    total = (depth * valid).sum(0)
    count = valid.sum(0)
    fallback = (depth * valid).sum() / valid.sum().clamp(min=1)
    return torch.where(count > 0, total / count.clamp(min=1), fallback)


@torch.no_grad()
def eval_mini3d(model: nn.Module, images: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor,
                baseline: torch.Tensor, batch: int = 32) -> dict[str, float]:
    """Depth metrics of `model` and of the mean-depth `baseline` on held-out uint8 images [N,V,3,H,W]."""
    was_training = model.training
    model.eval()
    preds = [model(images[i:i + batch].float() / 255.0)["depth"] for i in range(0, len(images), batch)]
    model.train(was_training)
    ours = depth_errors(torch.cat(preds), depth, valid)
    base = depth_errors(baseline[None], depth, valid)
    return {**ours, "baseline_abs_rel": base["abs_rel"], "baseline_rmse_m": base["rmse_m"]}


@torch.no_grad()
def eval_mini2d(model: nn.Module, images: torch.Tensor, batch: int = 32, seed: int = 0) -> dict[str, float]:
    """Masked reconstruction loss on held-out uint8 images with fixed masks (predicting each patch's mean,
    i.e. zeros in normalised space, scores about 1.0)."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float() / 255.0
        tokens = (x.shape[-1] // model.cfg.patch) * (x.shape[-2] // model.cfg.patch)
        mask = model.random_mask(x.shape[0] * x.shape[1], tokens, gen)
        total += mini2d_loss(model(x, mask), x, model.cfg.patch)["loss"].item() * len(x)
        count += len(x)
    model.train(was_training)
    return {"recon": total / max(count, 1)}


@torch.no_grad()
def eval_vit2d(model: nn.Module, images: torch.Tensor, batch: int = 32, seed: int = 0) -> dict[str, float]:
    """Masked reconstruction loss of a MaskedViT on held-out uint8 images with fixed masks ("recon"), and
    that of predicting zeros in normalised space, i.e. each patch's mean colour ("baseline_recon")."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    ours, base, count = 0.0, 0.0, 0
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float() / 255.0
        mask = model.random_mask(x.shape[0] * x.shape[1], gen)
        pred = model(x, mask)["patches"]
        target = patch_targets(x, model.cfg.patch_size)
        ours += masked_mse(pred, target, mask).item() * len(x)
        base += masked_mse(torch.zeros_like(pred), target, mask).item() * len(x)
        count += len(x)
    model.train(was_training)
    return {"recon": ours / max(count, 1), "baseline_recon": base / max(count, 1)}
