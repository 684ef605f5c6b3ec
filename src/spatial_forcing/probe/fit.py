"""Train the depth probe on some frames' frozen tokens and score it on held-out frames.

Views are independent samples: a frame's V views give V (token maps, depth map) pairs. The loss is the
mean |log pred - log gt| over valid pixels (scale-aware, so near and far pixels count alike).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from tqdm import tqdm

from spatial_forcing.probe.head import DepthProbe
from spatial_forcing.probe.metrics import depth_metrics

log = logging.getLogger(__name__)


@dataclass
class DepthFit:
    steps: int = 400  # optimizer steps of the probe
    batch_size: int = 32  # (frame, view) samples per step
    lr: float = 1e-3  # AdamW learning rate (cosine decay to 10%)
    width: int = 32  # channels of the probe's feature maps
    seed: int = 0  # init and batch order


def _views(x: torch.Tensor) -> torch.Tensor:
    """[N, V, ...] -> [N * V, ...]."""
    return x.reshape(-1, *x.shape[2:])


def fit_depth_probe(tokens: list[torch.Tensor], depth: torch.Tensor, valid: torch.Tensor, train: torch.Tensor,
                    grid: tuple[int, int], fit: DepthFit = DepthFit(),
                    progress: bool = True) -> tuple[DepthProbe, torch.Tensor, dict[str, dict]]:
    """tokens: 4 x [N, V, h*w, D]; depth, valid: [N, V, H, W]; train: bool [N] (the rest is held out).
    Returns the probe, its depth predictions for the held-out frames [N_test, V, H, W] and
    {"train": metrics, "test": metrics, "test_mean_depth": metrics of the train frames' mean depth map per
    view and pixel}."""
    torch.manual_seed(fit.seed)
    n, v, size = depth.shape[0], depth.shape[1], tuple(depth.shape[-2:])
    train = train.bool()
    if not train.any() or train.all():
        raise ValueError("fit_depth_probe: needs frames on both sides of the split")
    probe = DepthProbe([t.shape[-1] for t in tokens], grid, size, fit.width)
    x = [_views(t[train]).float() for t in tokens]
    y, ok = _views(depth[train]).float(), _views(valid[train])
    probe.set_stats(x, y[ok])
    optimizer = torch.optim.AdamW(probe.parameters(), lr=fit.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * s / fit.steps)).item()))
    gen = torch.Generator().manual_seed(fit.seed)
    probe.train()
    for _ in tqdm(range(fit.steps), desc="depth probe", disable=not progress, leave=False):
        rows = torch.randint(len(y), (min(fit.batch_size, len(y)),), generator=gen)
        pred = probe([t[rows] for t in x])
        mask = ok[rows]
        loss = (pred[mask].log() - y[rows][mask].clamp_min(1e-6).log()).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    probe.eval()
    pred_train, pred_test = predict(probe, x), predict(probe, [_views(t[~train]).float() for t in tokens])
    test_y, test_ok = _views(depth[~train]).float(), _views(valid[~train])
    mean_map = _mean_depth_map(depth[train].float(), valid[train]).expand(int((~train).sum()), -1, -1, -1)
    metrics = {"train": depth_metrics(pred_train, y, ok), "test": depth_metrics(pred_test, test_y, test_ok),
               "test_mean_depth": depth_metrics(_views(mean_map), test_y, test_ok)}
    log.info("depth probe: held-out AbsRel %.3f, delta<1.25 %.3f (train-mean depth map: %.3f, %.3f)",
             metrics["test"]["abs_rel"], metrics["test"]["delta1"], metrics["test_mean_depth"]["abs_rel"],
             metrics["test_mean_depth"]["delta1"])
    return probe, pred_test.reshape(-1, v, *size), metrics


def _mean_depth_map(depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per view and pixel, the mean valid depth of these frames [1, V, H, W] (the view's mean where none)."""
    total = torch.where(valid, depth, 0.0).sum(0)
    count = valid.sum(0)
    per_view = total.flatten(1).sum(1) / count.flatten(1).sum(1).clamp_min(1)
    return torch.where(count > 0, total / count.clamp_min(1), per_view[:, None, None])[None]


@torch.no_grad()
def predict(probe: DepthProbe, tokens: list[torch.Tensor], batch: int = 256) -> torch.Tensor:
    return torch.cat([probe([t[i:i + batch] for t in tokens]) for i in range(0, len(tokens[0]), batch)])
