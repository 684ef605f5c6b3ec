"""`sf teacher inspect`: how position-dependent a teacher's features and targets are, and what linear probes
read out of them (`teachers.inspect`).

Example: sf teacher inspect --dataset data/tabletop --teacher mini3d --image-size 64 --json inspect.json
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from spatial_forcing.core.target_norm import TARGET_NORMS
from spatial_forcing.teachers.inspect import format_report, inspect_teacher
from spatial_forcing.teachers.registry import TEACHERS, build_teacher
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError


@dataclass
class TeacherInspectConfig:
    """`sf teacher inspect`: compute the report, print it, and write it as JSON with --json."""

    dataset: str  # LeRobot v3 dataset directory
    teacher: str  # teacher: mini3d, mini2d, vggt, dinov2, siglip or oracle3d
    teacher_weights: str = ""  # weights file, or 'random' (seeded by --seed); "" = the teacher's default
    layer: int = -1  # teacher layer (-1 = the last)
    student_grid: int = 8  # side of the student's square patch grid, the targets' resolution
    target_norm: str = "none"  # normalisation of the raw features, as align.target_norm
    target_norm_gamma: float = 0.6  # as align.target_norm_gamma
    use_pe: bool = True  # add the 2D sin-cos PE to the targets, as align.use_pe
    pe_scale: float = 0.1  # as align.pe_scale
    max_frames: int = 2000  # at most this many frames, as whole seeded episodes
    seed: int = 0  # seed of the episode choice, the probe split and a random teacher init
    image_size: int = 0  # resize views to this square size first, as training does; 0 = the stored size
    cameras: list[str] = field(default_factory=lambda: ["agentview", "wrist"])  # views, in order
    batch_size: int = 32  # samples per teacher call
    json: str = ""  # also write the report to this JSON file; "" = print only
    threads: int = 1  # torch threads (1: the cores are shared)

    def __post_init__(self) -> None:
        if self.teacher not in TEACHERS:
            raise SFError(f"--teacher {self.teacher!r}: expected one of {sorted(TEACHERS)}")
        if self.target_norm not in TARGET_NORMS:
            raise SFError(f"--target-norm {self.target_norm!r}: expected one of {list(TARGET_NORMS)}")
        if self.batch_size < 1 or self.threads < 1:
            raise SFError(f"--batch-size and --threads must be >= 1, got {self.batch_size} and {self.threads}")

    def run(self) -> int:
        torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        teacher = build_teacher(self.teacher, weights=self.teacher_weights or None)
        report = _finite(inspect_teacher(
            self.dataset, teacher, self.layer, self.cameras, self.image_size or None, self.student_grid,
            self.target_norm, self.target_norm_gamma, self.use_pe, self.pe_scale, self.max_frames, self.seed,
            self.batch_size))
        print(format_report(report))
        if self.json:
            write_json(self.json, report)
            print(f"wrote {self.json}")
        return 0


def _finite(obj: Any) -> Any:
    """The report with NaN / inf floats as None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj
