"""Geometry targets from RGB-D renders and the pretraining losses of both mini teachers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_DEPTH = 3.5  # metres; farther pixels (far-plane background) are not supervised
CONF_ALPHA = 0.2  # weight of the -log(confidence) term of the aleatoric losses (VGGT uses 0.2 too)


def geometry_targets(depth: torch.Tensor, intrinsics: torch.Tensor,
                     extrinsics: torch.Tensor) -> dict[str, torch.Tensor]:
    """depth [N,V,H,W], intrinsics [N,V,3,3], extrinsics [N,V,4,4] (world-to-camera) -> valid [N,V,H,W],
    points [N,V,H,W,3] in view 0's camera frame, pose [N,V,9]: each view's camera-to-camera-0 translation
    and 6D rotation (first two columns of the rotation matrix)."""
    n, v, h, w = depth.shape
    vs, us = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    pix = torch.stack([us, vs, torch.ones_like(us)], dim=-1)  # [H, W, 3]; pixel centres at integers (MuJoCo)
    rays = torch.einsum("nvij,hwj->nvhwi", torch.linalg.inv(intrinsics.double()).float(), pix)
    cam_pts = rays * depth[..., None]
    to_cam0 = extrinsics[:, :1].double() @ torch.linalg.inv(extrinsics.double())  # [N, V, 4, 4]
    to_cam0 = to_cam0.float()
    points = torch.einsum("nvij,nvhwj->nvhwi", to_cam0[:, :, :3, :3], cam_pts)
    points = points + to_cam0[:, :, None, None, :3, 3]
    valid = (depth > 1e-3) & (depth < MAX_DEPTH)
    rot6d = to_cam0[:, :, :3, :2].transpose(-1, -2).reshape(n, v, 6)
    return {"valid": valid, "points": points, "pose": torch.cat([to_cam0[:, :, :3, 3], rot6d], dim=-1)}


def aleatoric_l1(err: torch.Tensor, logconf: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """VGGT-style confidence-weighted loss: mean over valid pixels of c*err - alpha*log(c), c = 1 + exp(x)."""
    conf = 1.0 + torch.exp(logconf.clamp(max=10.0))
    loss = conf * err - CONF_ALPHA * torch.log(conf)
    return (loss * valid).sum() / valid.sum().clamp(min=1)


def mini3d_loss(pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Depth + point (aleatoric L1, metres) + pose (L1 on translation and 6D rotation) losses."""
    valid = target["valid"]
    depth = aleatoric_l1((pred["depth"] - target["depth"]).abs(), pred["depth_logconf"], valid)
    points = aleatoric_l1((pred["points"] - target["points"]).abs().sum(-1), pred["points_logconf"], valid)
    pose = (pred["pose"] - target["pose"]).abs().mean()
    return {"loss": depth + points + pose, "depth": depth, "points": points, "pose": pose}


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, h*w, patch*patch*C]."""
    cols = F.unfold(x, kernel_size=patch, stride=patch)  # [N, C*p*p, h*w]
    return cols.transpose(1, 2)


def mini2d_loss(pred: dict[str, torch.Tensor], images: torch.Tensor, patch: int) -> dict[str, torch.Tensor]:
    """MSE on masked patches against per-patch normalised pixels (MAE's norm_pix_loss).
    images [B, V, 3, H, W] in [0, 1]."""
    target = patchify(images.flatten(0, 1), patch)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    err = (patchify(pred["pixels"], patch) - target).pow(2).mean(-1)  # [N, h*w]
    mask = pred["mask"].float()
    loss = (err * mask).sum() / mask.sum().clamp(min=1)
    return {"loss": loss, "recon": loss}
