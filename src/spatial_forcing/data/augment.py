"""Random-resized-crop for student images, mirrored exactly on cached teacher feature grids.

OpenVLA / OpenVLA-OFT train with a random crop covering 90% of the image area (aspect ratio 1) resized
back to the input size, and center-crop 90% at evaluation. The teacher must see the same crop as the
student. With online targets the teacher simply runs on the cropped images; with cached targets
`crop_features` resamples the same window of the cached (uncropped) feature grid.

Boxes are normalised `(y0, x0, y1, x1)` in [0, 1], so one box means the same window for an H x W image and
an h x w feature grid. Each view of a sample gets its own window (the reference augments each camera
image with its own seed; the views are different cameras, so a shared window has no geometric meaning).

Both resamplings use the same continuous-coordinate convention as every resize in this package
(`align_corners=False`: pixel / cell i of n covers [i, i + 1) / n, its centre is (i + 0.5) / n): output
cell i of a crop samples the source at y0 + (i + 0.5) / n * (y1 - y0), bilinearly, edges clamped.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def crop_boxes(batch: int, views: int, scale: float, generator: torch.Generator | None = None,
               ratio: float = 1.0) -> torch.Tensor:
    """Random windows [batch, views, 4] = (y0, x0, y1, x1) of area `scale` (fraction of the image) and
    aspect `ratio` (width / height in normalised units), placed uniformly inside the image."""
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"crop scale must be in (0, 1], got {scale}")
    h = min(1.0, math.sqrt(scale / ratio))
    w = min(1.0, math.sqrt(scale * ratio))
    u = torch.rand(batch, views, 2, generator=generator)
    y0, x0 = u[..., 0] * (1.0 - h), u[..., 1] * (1.0 - w)
    return torch.stack([y0, x0, y0 + h, x0 + w], dim=-1)


def center_boxes(batch: int, views: int, scale: float) -> torch.Tensor:
    """The evaluation-time counterpart: centred windows of area `scale`, [batch, views, 4]."""
    side = math.sqrt(scale)
    lo, hi = (1.0 - side) / 2, (1.0 + side) / 2
    return torch.tensor([lo, lo, hi, hi]).expand(batch, views, 4).clone()


def _sample_grid(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """boxes [N, 4] -> grid_sample grid [N, h, w, 2] (x, y in [-1, 1], align_corners=False)."""
    h, w = size
    ty = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    tx = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    y = boxes[:, 0:1] + ty[None] * (boxes[:, 2:3] - boxes[:, 0:1])  # [N, h] in [0, 1]
    x = boxes[:, 1:2] + tx[None] * (boxes[:, 3:4] - boxes[:, 1:2])  # [N, w]
    grid_y = (2 * y - 1)[:, :, None].expand(-1, h, w)
    grid_x = (2 * x - 1)[:, None, :].expand(-1, h, w)
    return torch.stack([grid_x, grid_y], dim=-1)


def crop_resize(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Resample window `boxes` [N, 4] of maps x [N, C, H, W] to [N, C, *size] (default: same size)."""
    size = tuple(x.shape[-2:]) if size is None else size
    grid = _sample_grid(boxes.float(), size).to(x.device, torch.float32)
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)


def crop_images(images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """images float [B, V, 3, H, W] in [0, 1], boxes [B, V, 4] -> the crops resized back to H x W."""
    b, v = images.shape[:2]
    out = crop_resize(images.flatten(0, 1), boxes.reshape(b * v, 4))
    return out.clamp_(0.0, 1.0).reshape(images.shape)


def crop_features(feats: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Feature grids [B, V, h, w, C] of the uncropped images, boxes [B, V, 4] -> [B, V, h, w, C] features of
    the same windows (what a teacher would roughly give for the cropped images), in feats' dtype."""
    b, v, h, w, c = feats.shape
    x = feats.reshape(b * v, h, w, c).permute(0, 3, 1, 2)
    out = crop_resize(x, boxes.reshape(b * v, 4))
    return out.permute(0, 2, 3, 1).reshape(b, v, h, w, c).to(feats.dtype)


def augment_batch(batch: dict, scale: float, seed: int, step: int, rows: slice | None = None,
                  total: int | None = None) -> torch.Tensor | None:
    """Training-loop helper: crop batch["images"] in place with windows drawn from (seed, step) (so a resumed
    run draws the same crops) and return the boxes [B, V, 4]; None (nothing done) when scale == 1.

    `batch` may be the `rows` of a step's global batch of `total` samples (one rank's shard): the windows of
    the whole global batch are drawn and those rows kept, so each sample gets its one-process crop."""
    if scale >= 1.0:
        return None
    b, v = batch["images"].shape[:2]
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    boxes = crop_boxes(b if total is None else total, v, scale, generator=gen)
    if rows is not None:
        boxes = boxes[rows]
    batch["images"] = crop_images(batch["images"], boxes)
    return boxes
