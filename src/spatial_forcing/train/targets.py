"""Teacher targets for training: read from the on-disk per-frame cache ("cache") or computed every step
("online"). Cache mode opens (building or finishing it if needed) the sidecar cache of
`teachers.cache_build`, so the teacher runs once per dataset, not once per training run; when the sidecar
cannot be written (read-only location) it falls back to computing the features in memory."""

from __future__ import annotations

import logging

import torch

from spatial_forcing.data.augment import crop_features
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.cache import FeatureCache
from spatial_forcing.teachers.cache_build import build_cache, teacher_features
from spatial_forcing.teachers.cache_key import cache_key
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

__all__ = ["TargetProvider", "teacher_features"]


class TargetProvider:
    """Gives teacher features [B, V, h, w, C] (float32) for a batch.

    cache mode: `disk` (a FeatureCache, rows = global frame indices, `index` maps dataset positions to them),
    else `cached` (an in-memory [N, V, h, w, C] tensor by dataset position), else computed in memory from
    `images_u8`. online mode: the teacher runs on the batch images (already augmented).
    """

    def __init__(self, teacher: Teacher, layer: int, mode: str, images_u8: torch.Tensor | None = None,
                 cached: torch.Tensor | None = None, disk: FeatureCache | None = None,
                 index: torch.Tensor | None = None):
        _check_layer(teacher, layer)
        self.teacher, self.layer, self.mode = teacher, layer, mode
        self.cache, self.disk, self.index = cached, disk, index
        if disk is not None and index is None:
            raise ValueError("TargetProvider: a disk cache needs `index` (dataset position -> global frame index)")
        if mode == "cache" and self.cache is None and disk is None:
            log.info("computing teacher features in memory for %d frames (teacher %s, layer %d)", len(images_u8),
                     teacher.name, layer)
            self.cache = teacher_features(teacher, images_u8, layer, progress=True)

    @classmethod
    def for_dataset(cls, teacher: Teacher, layer: int, mode: str, data: ChunkDataset) -> "TargetProvider":
        """The provider for a training dataset: cache mode uses (and if needed builds) the sidecar cache."""
        _check_layer(teacher, layer)
        if mode != "cache":
            return cls(teacher, layer, mode)
        key = cache_key(data.reader, teacher, layer, data.cameras, data.image_size)
        try:
            path = build_cache(data.reader, teacher, layer, data.cameras, data.image_size, key=key)
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


def _check_layer(teacher: Teacher, layer: int) -> None:
    if not -teacher.num_layers <= layer < teacher.num_layers:
        raise ValueError(f"align.teacher_layer={layer} out of range for teacher {teacher.name!r} with "
                         f"{teacher.num_layers} layers")
