"""TrainConfig: everything one training run needs, saved as JSON beside its checkpoints."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.utils.errors import SFError


@dataclass
class TrainConfig:
    dataset: str = ""  # path to a LeRobotDataset v3 directory
    out: str = "runs/train"  # run directory: checkpoints/, policy/ (the exported student), tensorboard/
    # A non-empty --out is refused unless --resume (continue its run) or --overwrite (start over: the old
    # checkpoints, metrics, logs and evaluations are deleted once the new run has passed its checks; the old
    # policy/ is replaced only when the new run exports one). --overwrite also rebuilds a stale teacher cache.
    overwrite: bool = False  # start over in a non-empty --out (and rebuild a stale teacher-feature cache)
    vla_preset: str = "demo"  # small VLA size preset: tiny | demo | small
    vla: dict[str, Any] = field(default_factory=dict)  # overrides of SmallVLAConfig fields, e.g. {"head": "flow"}
    align: AlignConfig = field(default_factory=AlignConfig)  # Spatial Forcing; align.enabled=False = baseline
    teacher_weights: str = ""  # teacher weights file; "" = the teacher's default (shipped mini weights)
    targets: str = "cache"  # "cache": teacher features computed once per frame; "online": every step
    crop_scale: float = 1.0  # random-resized-crop area fraction (1 = off; OpenVLA uses 0.9)
    cameras: list[str] = field(default_factory=lambda: ["agentview", "wrist"])  # views, in order
    episode_fraction: float = 1.0  # fraction of episodes per task used (data-efficiency experiments)
    steps: int = 600  # optimizer steps
    batch_size: int = 32  # samples per step: the global batch, split over the processes of a multi-process run
    grad_accum: int = 1  # micro-batches per process and step, of batch_size / (processes * grad_accum) each
    lr: float = 5e-4  # peak learning rate (AdamW)
    weight_decay: float = 0.01  # AdamW weight decay (torch default, as the reference)
    warmup_steps: int = 50  # linear warm-up steps
    schedule: str = "cosine"  # "cosine" (to 10% of lr) | "constant"
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    seed: int = 0  # seed for init, data order and noise
    threads: int = 2  # torch CPU threads (1 per job when two jobs share the machine)
    log_every: int = 10  # steps between logged scalars
    save_every: int = 200  # steps between checkpoints (resume points)
    val_dataset: str = ""  # dataset of held-out episodes (same suite, other seed) for val/action_loss; "" = none
    val_every: int = 0  # held-out action loss every N steps and at the last one (0 = off; needs val_dataset)
    val_samples: int = 512  # frames of val_dataset used (evenly spaced)
    eval_every: int = 0  # steps between closed-loop success evaluations during training (0 = off)
    eval_env: str = ""  # suite of those evaluations ("" = the dataset's robot_type, e.g. tabletop)
    eval_tasks: list[int] = field(default_factory=list)  # suite task ids ([] = tasks whose instruction is in the data)
    eval_init_states: list[int] = field(default_factory=lambda: list(range(25, 35)))  # fixed initial states per task
    eval_seed: int = 7  # seed of the evaluation episodes (re-set per episode)

    def __post_init__(self) -> None:
        if isinstance(self.align, dict):
            self.align = AlignConfig(**self.align)
        if self.targets not in ("cache", "online"):
            raise SFError(f"--targets must be 'cache' or 'online', got {self.targets!r}")
        if self.schedule not in ("cosine", "constant"):
            raise SFError(f"--schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if not 0.0 < self.episode_fraction <= 1.0:
            raise SFError(f"--episode-fraction must be in (0, 1], got {self.episode_fraction}")
        if not 0.0 < self.crop_scale <= 1.0:
            raise SFError(f"--crop-scale must be in (0, 1], got {self.crop_scale}")
        if self.val_every and not self.val_dataset:
            raise SFError("--val-every needs --val-dataset (a dataset of held-out episodes)")
        if self.eval_every < 0 or self.val_every < 0:
            raise SFError(f"--eval-every and --val-every must be >= 0, got {self.eval_every}, {self.val_every}")
        for name in ("steps", "batch_size", "grad_accum", "threads", "log_every", "save_every"):
            if getattr(self, name) < 1:
                raise SFError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        # NaN compares False with everything, so each bound is checked together with isfinite.
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise SFError(f"--lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise SFError(f"--weight-decay must be a finite number >= 0, got {self.weight_decay}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise SFError(f"--grad-clip must be a finite number >= 0 (0 = no clipping), got {self.grad_clip}")
        if self.warmup_steps < 0:
            raise SFError(f"--warmup-steps must be >= 0, got {self.warmup_steps}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SFError(f"train config: unknown field(s) {unknown}")
        return cls(**data)
