"""The training-only SF branch of a LeRobot policy: our core `SpatialForcing` (projector, capture, targets,
loss) plus a frozen teacher that is not part of the policy's modules (no state-dict keys, no optimizer
entries)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.registry import build_teacher

log = logging.getLogger("lerobot_policy_sf")
SF_PREFIX = "sf."  # state-dict prefix of the branch inside an SF policy: what an export drops


def check_align(align: AlignConfig, where: str) -> None:
    """What the plugin supports of AlignConfig; a one-line error naming the option otherwise."""
    if align.target_norm == "position_mean":
        raise ValueError(f"{where}: align.target_norm 'position_mean' needs dataset feature statistics, "
                         "which the LeRobot plugin does not compute; use 'none' or 'token_mean'")
    if align.teacher == "oracle3d":
        raise ValueError(f"{where}: align.teacher 'oracle3d' reads simulator geometry columns per frame, "
                         "which LeRobot batches do not carry; use mini3d, mini2d or vggt")


class SFBranch(nn.Module):
    """`attach(policy, paths, layout)` once; then, per training batch, `loss(images, valid)` after the
    policy's forward has run (the capture holds the chosen layers' hidden states)."""

    def __init__(self, align: AlignConfig, teacher_weights: str, student_dim: int, layers: list[int],
                 log_every: int = 0):
        super().__init__()
        self.log_every = log_every  # log the SF scalars every N training losses (0: never)
        self.steps = 0  # training losses computed by this process
        teacher = build_teacher(align.teacher, weights=teacher_weights or None)
        self.__dict__["teacher"] = teacher  # outside nn.Module bookkeeping: never saved, never optimised
        self.align = align
        self.sf = SpatialForcing(align, student_dim=student_dim, teacher_dim=teacher.dim, layers=layers)

    @property
    def frozen_teacher(self) -> Teacher:
        return self.__dict__["teacher"]

    def attach(self, policy: nn.Module, paths: dict[int, str], layout: TokenLayout, kind: str) -> None:
        self.sf.attach(policy, paths, layout, kind=kind)

    def loss(self, images: torch.Tensor, valid: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        """images [B, V, 3, H, W] in [0, 1] (the student's geometry, padding included); valid [B, V, H, W]
        marks real pixels (None: all). Returns (alignment loss, metrics with align_cos)."""
        teacher = self.frozen_teacher
        if isinstance(teacher, nn.Module):
            teacher.to(images.device)
        with torch.no_grad():
            feats = teacher.forward_intermediates(images, [self.align.teacher_layer], valid=valid)[0]
        return self.sf(feats, pixel_valid=valid)

    def log(self, info: dict) -> None:
        """Count one training step; every `log_every` steps log its scalars (lerobot prints only its own
        loss: the dict reaches W&B when enabled, this puts it in the console log too)."""
        self.steps += 1
        if self.log_every and self.steps % self.log_every == 0:
            names = ("action_loss", "align_loss", "align_cos", "position_only_cos", "residual_cos")
            keys = [k for k in names if k in info]
            log.info("sf step %d: %s", self.steps, " ".join(f"{k}={info[k]:.4f}" for k in keys))

    def clear(self) -> None:
        """Drop what the capture holds (an inference forward also fires the hooks)."""
        if self.sf.capture is not None:
            self.sf.capture.tensors.clear()
