"""ProbeConfig: `sf probe`, the depth and object-position probes of a frozen student's visual tokens."""

from __future__ import annotations

from dataclasses import dataclass

from spatial_forcing.utils.errors import SFError


@dataclass
class ProbeConfig:
    """`sf probe`: how much depth and object position a frozen student's visual tokens hold."""

    policy: str  # exported policy (RUN/policy) or RUN:STEP (a checkpoint; STEP 0 = untrained init)
    dataset: str  # tabletop dataset made with --record-geometry (depth per camera), ideally held-out episodes
    out: str  # output directory: probe.json, probe.png
    layer: int = 0  # aligned layer k; probed: k and the 3 before it. 0 = the run's align layer, else ~3/4 depth
    stride: int = 4  # every stride-th frame of each episode
    max_frames: int = 1200  # at most this many frames (evenly spaced)
    heldout_every: int = 4  # episodes with index % heldout_every == 0 are held out (test), the rest train
    size: int = 32  # depth map side of the probe's output and of the metrics (ground truth resized, nearest)
    max_depth: float = 3.9  # ground-truth pixels at or beyond this (m) are not scored (tabletop far plane: 4 m)
    steps: int = 1500  # optimizer steps of the depth probe
    batch_size: int = 32  # (frame, view) samples per step
    lr: float = 1e-3  # AdamW learning rate of the depth probe (cosine decay to 10%)
    width: int = 32  # channels of the DPT head's feature maps
    ridge_alpha: float = 10.0  # ridge penalty per training sample of the object-position probe
    examples: int = 4  # held-out frames drawn in probe.png
    seed: int = 0  # probe init and batch order
    threads: int = 1  # torch CPU threads

    def __post_init__(self) -> None:
        for name in ("stride", "max_frames", "heldout_every", "size", "steps", "batch_size", "width", "threads"):
            if getattr(self, name) < 1:
                raise SFError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.heldout_every < 2:
            raise SFError(f"--heldout-every must be >= 2 (1 would hold out every episode), got {self.heldout_every}")
        if self.layer < 0 or self.examples < 0 or not self.max_depth > 0 or not self.lr > 0:
            raise SFError("--layer and --examples must be >= 0, --max-depth and --lr > 0")
