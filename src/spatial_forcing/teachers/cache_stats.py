"""Dataset statistics of a teacher-feature cache, stored in the cache directory as feature_stats.safetensors.

The statistics (`core.target_norm.FeatureStats`: per-position mean and per-channel residual std of the raw
cached features over all frames) belong to the cache's key like its chunks do. `build_cache` writes them
when it completes a cache; a cache built before they existed gets them on its next open.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from spatial_forcing.core.target_norm import FeatureStats, FeatureStatsAccumulator
from spatial_forcing.teachers.cache import FeatureCache, chunk_name
from spatial_forcing.utils.atomic import atomic_path
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

STATS_FILE = "feature_stats.safetensors"
ROWS_PER_UPDATE = 256  # frames converted to float64 at a time


def compute_feature_stats(cache: FeatureCache) -> FeatureStats:
    """FeatureStats over every frame of a complete cache, streamed chunk by chunk."""
    acc = FeatureStatsAccumulator()
    for k in range(int(cache.manifest["num_chunks"])):
        chunk = cache.chunk(k)
        for lo in range(0, len(chunk), ROWS_PER_UPDATE):
            part = torch.from_numpy(np.asarray(chunk[lo : lo + ROWS_PER_UPDATE], dtype=np.float32))
            if not torch.isfinite(part).all():
                raise SFError(f"{cache.path / chunk_name(k)}: cached teacher features hold NaN or inf "
                              f"(an fp16 overflow?); rebuild the cache with `sf teacher cache --overwrite`")
            acc.update(part)
    return acc.result()


def load_feature_stats(path: str | Path, cache: FeatureCache | None = None) -> FeatureStats:
    """The statistics of the complete cache at `path`: read from its STATS_FILE, which is computed and
    written (atomically) first when absent."""
    path = Path(path)
    cache = cache or FeatureCache(path)
    file = path / STATS_FILE
    if not file.is_file():
        log.info("computing feature statistics of cache %s (%d frames)", path, len(cache))
        stats = compute_feature_stats(cache)
        with atomic_path(file) as tmp:
            save_file(stats.to_tensors(), str(tmp))
        return stats
    try:
        stats = FeatureStats.from_tensors(load_file(str(file)))
    except (SafetensorError, ValueError, OSError) as err:
        raise SFError(f"corrupt feature statistics {file}: {str(err).splitlines()[0]}; delete the file to "
                      f"recompute it") from None
    if tuple(stats.mean.shape) != cache.row_shape or not stats.is_finite():
        raise SFError(f"{file}: feature statistics are not finite or do not match the cache rows "
                      f"{cache.row_shape}; delete the file to recompute it")
    return stats


def with_feature_stats(path: Path) -> Path:
    """Make sure the complete cache at `path` has its statistics file; returns `path`."""
    load_feature_stats(path)
    return path
