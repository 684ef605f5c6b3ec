"""The one way camera frames become model input, shared by training (`ChunkDataset`) and evaluation
(`LoadedPolicy`), so that the student sees the same pixels in both.

Frames are resized as uint8 (the training cache stores uint8 to stay small), then scaled to [0, 1];
resizing floats at evaluation time would skip the rounding and feed the student pixels it never saw.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> uint8 [B, 3, *size] (bilinear, antialiased when shrinking, rounded)."""
    out = F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]."""
    return images.float().div_(255.0)


def model_images(frames: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> float32 [..., 3, *size] in [0, 1] (unchanged size when `size` is None)."""
    if size is not None and tuple(frames.shape[-2:]) != tuple(size):
        lead = frames.shape[:-3]
        frames = resize_images(frames.reshape(-1, *frames.shape[-3:]), size).reshape(*lead, 3, *size)
    return to_unit(frames)
