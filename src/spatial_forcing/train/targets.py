"""Teacher targets for training: read from the on-disk per-frame cache ("cache") or computed every step
("online"). Cache mode opens (building or finishing it if needed) the sidecar cache of
`teachers.cache_build`, so the teacher runs once per dataset, not once per training run; when the sidecar
cannot be written (read-only location) it falls back to computing the features in memory.

Dataset-level quantities for target normalisation and diagnostics: `feature_stats` (FeatureStats of the raw
features) and `position_mean(...)` (the per-token mean of the final targets). Cache mode uses every frame
the run trains on (with `episode_fraction` < 1 only its episodes' frames); online mode a fixed seeded
subset of up to STATS_FRAMES dataset frames run once through the teacher."""

from __future__ import annotations

import logging
from typing import Iterator

import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.diagnostics import PositionMeanAccumulator
from spatial_forcing.core.target_norm import FeatureStats, FeatureStatsAccumulator
from spatial_forcing.core.targets import build_targets
from spatial_forcing.data.augment import crop_features
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.cache import FeatureCache
from spatial_forcing.teachers.cache_build import build_cache, teacher_features
from spatial_forcing.teachers.cache_key import cache_key
from spatial_forcing.utils.errors import SFError
from spatial_forcing.teachers.cache_stats import load_feature_stats
from spatial_forcing.utils.layer_index import teacher_layer

log = logging.getLogger(__name__)

STATS_FRAMES = 256  # online mode: dataset frames (fixed seeded subset) behind feature_stats and position_mean
READ_FRAMES = 512  # cache mode: frames read at a time when streaming over the dataset

__all__ = ["TargetProvider", "teacher_features"]


class TargetProvider:
    """Gives teacher features [B, V, h, w, C] (float32) for a batch.

    cache mode: `disk` (a FeatureCache, rows = global frame indices, `index` maps dataset positions to them),
    else `cached` (an in-memory [N, V, h, w, C] tensor by dataset position), else computed in memory from
    `images_u8`. online mode: the teacher runs on the batch images (already augmented); `images_u8` (the
    dataset's uint8 images) is then only used for the statistics subset.
    """

    def __init__(self, teacher: Teacher, layer: int, mode: str, images_u8: torch.Tensor | None = None,
                 cached: torch.Tensor | None = None, disk: FeatureCache | None = None,
                 index: torch.Tensor | None = None):
        _check_layer(teacher, layer)
        self.teacher, self.layer, self.mode = teacher, layer, mode
        self.cache, self.disk, self.index = cached, disk, index
        self.images_u8 = images_u8
        self._stats: FeatureStats | None = None
        self._subset: torch.Tensor | None = None  # online: fp16 features of the statistics subset
        self._summaries: dict[tuple, tuple[torch.Tensor, float, int]] = {}
        if disk is not None and index is None:
            raise ValueError("TargetProvider: a disk cache needs `index` (dataset position -> global frame index)")
        if mode == "cache" and self.cache is None and disk is None:
            log.info("computing teacher features in memory for %d frames (teacher %s, layer %d)", len(images_u8),
                     teacher.name, layer)
            self.cache = teacher_features(teacher, images_u8, layer, progress=True)

    @classmethod
    def for_dataset(cls, teacher: Teacher, layer: int, mode: str, data: ChunkDataset,
                    overwrite: bool = False) -> "TargetProvider":
        """The provider for a training dataset: cache mode uses (and if needed builds) the sidecar cache;
        `overwrite` (sf train --overwrite) rebuilds it when stale instead of refusing."""
        _check_layer(teacher, layer)
        if mode != "cache":
            return cls(teacher, layer, mode, images_u8=data.images)
        key = cache_key(data.reader, teacher, layer, data.cameras, data.image_size)
        try:
            path = build_cache(data.reader, teacher, layer, data.cameras, data.image_size, key=key,
                               overwrite=overwrite)
        except OSError as err:
            if hasattr(teacher, "features_from_dataset"):  # oracle3d: no images to fall back on
                where = data.reader.root
                raise SFError(f"cannot write the {teacher.name} feature cache beside {where} ({err}); it has "
                              f"no in-memory fallback: copy the dataset somewhere writable") from None
            log.warning("cannot write a teacher-feature cache beside %s (%s); computing features in memory",
                        data.reader.root, err)
            return cls(teacher, layer, mode, images_u8=data.images)
        log.info("teacher targets from cache %s", path)
        return cls(teacher, layer, mode, disk=FeatureCache(path, key), index=data.index)

    def __call__(self, positions: torch.Tensor, images: torch.Tensor,
                 boxes: torch.Tensor | None = None) -> torch.Tensor:
        """positions: dataset positions of the batch; images [B, V, 3, H, W] in [0, 1] (used online);
        boxes [B, V, 4]: crop windows already applied to `images`, mirrored on cached features."""
        if self.mode == "cache":
            feats = self.disk[self.index[positions]] if self.disk is not None else self.cache[positions]
            feats = feats.float()
            return feats if boxes is None else crop_features(feats, boxes)
        with torch.no_grad():
            return self.teacher.forward_intermediates(images, [self.layer])[0].float()

    @property
    def feature_stats(self) -> FeatureStats:
        """FeatureStats of the raw teacher features of the frames the run trains on: those stored beside the
        disk cache when the dataset covers all its frames, else computed over the dataset's frames (a run on
        a fraction of the episodes sees no statistics of the others), of the in-memory features, or (online)
        of the statistics subset."""
        if self._stats is None:
            if self.disk is not None and self._covers_disk():
                self._stats = load_feature_stats(self.disk.path, self.disk)
            else:
                acc = FeatureStatsAccumulator()
                for feats in self._dataset_features():
                    acc.update(feats)
                self._stats = acc.result()
        return self._stats

    def _covers_disk(self) -> bool:
        """Whether the dataset's frames are every frame of the disk cache."""
        frames = torch.unique(self.index)
        return len(frames) == len(self.disk) and bool((frames == torch.arange(len(self.disk))).all())

    def position_mean(self, student_grid: tuple[int, int], cfg: AlignConfig) -> torch.Tensor:
        """[V*hs*ws, C]: the mean over the dataset frames (cache: all of them; online: the statistics subset)
        of the final targets (normalised per `cfg`, PE, resampled to `student_grid`, no crop)."""
        return self._position_summary(student_grid, cfg)[0]

    def position_only_cos(self, student_grid: tuple[int, int], cfg: AlignConfig) -> tuple[float, int]:
        """(mean cosine of `position_mean` with the final targets over the same frames, number of frames)."""
        _, cos, frames = self._position_summary(student_grid, cfg)
        return cos, frames

    def _position_summary(self, grid: tuple[int, int], cfg: AlignConfig) -> tuple[torch.Tensor, float, int]:
        key = (tuple(grid), cfg.use_pe, cfg.pe_scale, cfg.target_norm, cfg.target_norm_gamma)
        if key not in self._summaries:
            stats = self.feature_stats if cfg.target_norm == "position_mean" else None
            acc = PositionMeanAccumulator()
            for feats in self._dataset_features():
                acc.update(build_targets(feats, tuple(grid), cfg.use_pe, cfg.pe_scale, norm=cfg.target_norm,
                                         gamma=cfg.target_norm_gamma, stats=stats)[0])
            self._summaries[key] = (*acc.result(), acc.count)
        return self._summaries[key]

    def _dataset_features(self) -> Iterator[torch.Tensor]:
        """Float32 raw features [b, V, h, w, C] of the frames the dataset-level quantities cover, in parts."""
        if self.disk is not None:
            for part in self.index.split(READ_FRAMES):
                yield self.disk[part].float()
        elif self.mode == "cache":
            for part in self.cache.split(READ_FRAMES):
                yield part.float()
        else:
            for part in self._online_subset().split(64):  # float32 copies stay small for wide teachers
                yield part.float()

    def _online_subset(self) -> torch.Tensor:
        if self._subset is None:
            if self.images_u8 is None:
                raise ValueError("online targets need the dataset images to estimate feature statistics")
            n = len(self.images_u8)
            pick = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:STATS_FRAMES].sort().values
            log.info("running teacher %s on %d dataset frames for target statistics", self.teacher.name,
                     len(pick))
            self._subset = teacher_features(self.teacher, self.images_u8[pick], self.layer)
        return self._subset


def _check_layer(teacher: Teacher, layer: int) -> None:
    teacher_layer(layer, teacher.num_layers, f"teacher {teacher.name!r}: align.teacher_layer")
