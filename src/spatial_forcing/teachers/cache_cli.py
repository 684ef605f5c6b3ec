"""`sf teacher cache`: precompute one teacher layer's features for every frame of a dataset, beside it.

Example: sf teacher cache --dataset data/tabletop --teacher mini3d --layer 2 --image-size 64
Rerunning after an interruption finishes the missing chunks only; training in cache mode
(`sf train --targets cache`) then reads the features without running the teacher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from spatial_forcing.teachers.cache import FeatureCache
from spatial_forcing.teachers.cache_build import build_cache
from spatial_forcing.teachers.registry import TEACHERS, build_teacher
from spatial_forcing.utils.errors import SFError

log = logging.getLogger("sf.teacher.cache")


@dataclass
class TeacherCacheConfig:
    """`sf teacher cache`: build or finish the cache, verify it, print its location and size."""

    dataset: str  # LeRobot v3 dataset directory
    teacher: str  # teacher: mini3d, mini2d, vggt, dinov2, siglip or oracle3d
    layer: int  # teacher layer (negative counts from the end)
    weights: str = ""  # weights file, or 'random' (seeded by --seed); "" = the teacher's default
    # as training does: the VLA's image_size, e.g. 64 for the demo preset
    image_size: int = 0  # resize views to this square size first; 0 = the stored size
    cameras: list[str] = field(default_factory=lambda: ["agentview", "wrist"])  # views, in order
    out: str = ""  # cache directory; "" = <dataset>.sf_cache/<teacher>-L<layer>-<hash>
    batch_size: int = 32  # samples per teacher call
    chunk_frames: int = 0  # frames per chunk file; 0 = about 64 MB of features per chunk
    vggt_config: str = ""  # vggt only: size preset (e.g. 'tiny' for tests); "" = vggt-1b
    overwrite: bool = False  # replace a stale cache instead of refusing
    seed: int = 0  # seed of a random teacher init
    threads: int = 1  # torch threads (1: the cores are shared)

    def __post_init__(self) -> None:
        if self.teacher not in TEACHERS:
            raise SFError(f"--teacher {self.teacher!r}: expected one of {sorted(TEACHERS)}")
        if self.batch_size < 1:
            raise SFError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.chunk_frames < 0:
            raise SFError(f"--chunk-frames must be >= 0, got {self.chunk_frames}")
        if self.image_size < 0 or self.threads < 1:
            raise SFError(f"--image-size must be >= 0 and --threads >= 1, got {self.image_size}, {self.threads}")
        if self.vggt_config and self.teacher != "vggt":
            raise SFError(f"--vggt-config only applies to --teacher vggt, not {self.teacher!r}")

    def run(self) -> int:
        torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        kwargs: dict = {"weights": self.weights or None}
        if self.weights == "random":
            kwargs["seed"] = self.seed
        if self.vggt_config:
            kwargs["config"] = self.vggt_config
        teacher = build_teacher(self.teacher, **kwargs)
        path = build_cache(self.dataset, teacher, self.layer, self.cameras, self.image_size or None,
                           out=self.out or None, chunk_frames=self.chunk_frames, batch_size=self.batch_size,
                           overwrite=self.overwrite)
        cache = FeatureCache(path)
        size = sum(p.stat().st_size for p in path.glob("chunk-*.npy")) / 2**20
        print(f"{path}: {len(cache)} frames x {cache.row_shape} float16 in {cache.manifest['num_chunks']} "
              f"chunks, {size:.1f} MiB")
        return 0
