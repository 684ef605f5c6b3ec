"""Teacher-feature cache on disk: write side. Computes one layer's features once per dataset frame, chunk by
chunk; finished chunks survive an interruption and are not recomputed when the build is rerun."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.images import resize_images
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.cache import MANIFEST, ROWS, chunk_name, missing_chunks, read_manifest, stale_reason
from spatial_forcing.teachers.cache_key import FORMAT_VERSION, PE_NOTE, cache_key, default_cache_dir
from spatial_forcing.teachers.cache_stats import with_feature_stats
from spatial_forcing.utils.atomic import atomic_path, write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 << 20  # automatic chunk size: about this many bytes of fp16 features per chunk file


@torch.no_grad()
def teacher_features(teacher: Teacher, images_u8: torch.Tensor, layer: int, batch_size: int = 64,
                     progress: bool = False) -> torch.Tensor:
    """uint8 [N, V, 3, H, W] -> features [N, V, h, w, C] (fp16) of one teacher layer, all views per call."""
    out = []
    for start in tqdm(range(0, len(images_u8), batch_size), desc="teacher features", disable=not progress,
                      leave=False):
        imgs = images_u8[start : start + batch_size].float().div_(255.0)
        out.append(teacher.forward_intermediates(imgs, [layer])[0].to(torch.float16))
    return torch.cat(out)


def read_frames(reader: LeRobotDatasetReader, views: Sequence[str], lo: int, hi: int,
                size: tuple[int, int]) -> torch.Tensor:
    """uint8 [hi - lo, V, 3, *size] of global frames [lo, hi), resized exactly as ChunkDataset does."""
    starts = np.array([int(e["dataset_from_index"]) for e in reader.episodes])
    first = int(np.searchsorted(starts, lo, side="right") - 1)
    views_out = []
    for cam in views:
        parts = []
        for e in reader.episodes[first:]:
            a, b = int(e["dataset_from_index"]), int(e["dataset_to_index"])
            if a >= hi:
                break
            frames = reader.images(fmt.image_key(cam), [int(e["episode_index"])])
            parts.append(frames[max(lo, a) - a : min(hi, b) - a])
        imgs = torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2)
        if tuple(imgs.shape[-2:]) != tuple(size):
            imgs = resize_images(imgs, tuple(size))
        views_out.append(imgs.contiguous())
    return torch.stack(views_out, dim=1)


def build_cache(dataset: str | Path | LeRobotDatasetReader, teacher: Teacher, layer: int,
                views: Sequence[str] = ("agentview", "wrist"), image_size: int | tuple[int, int] | None = None,
                out: str | Path | None = None, chunk_frames: int = 0, batch_size: int = 32,
                overwrite: bool = False, progress: bool = True, key: dict | None = None) -> Path:
    """Compute (or finish) the cache of `teacher` layer `layer` for every frame of `dataset`; returns its dir.

    out: cache directory (default `<dataset>.sf_cache/<teacher>-L<layer>-<hash>/`). chunk_frames: rows per
    chunk file (0 = about 64 MB per chunk). An existing cache for the same key is resumed (its chunk size
    kept); one for a different key is refused unless `overwrite`. key: a precomputed `cache_key(...)`.
    A complete cache also holds the dataset statistics of its features (`cache_stats.STATS_FILE`).
    """
    reader = dataset if isinstance(dataset, LeRobotDatasetReader) else LeRobotDatasetReader(dataset)
    key = key or cache_key(reader, teacher, layer, views, image_size)
    path = Path(out) if out is not None else default_cache_dir(reader.root, key)
    if path.resolve().is_relative_to(reader.root.resolve()):
        raise SFError(f"--out {path}: the cache must live outside the dataset directory {reader.root}")
    manifest = read_manifest(path)
    if manifest is not None and stale_reason(manifest, key):
        if not overwrite:
            raise SFError(f"stale teacher-feature cache {path}: {stale_reason(manifest, key)}; delete it or "
                          f"pass --overwrite (sf train and sf teacher cache both take it)")
        log.info("overwriting stale cache %s (%s)", path, stale_reason(manifest, key))
        shutil.rmtree(path)
        manifest = None
    if manifest is None:
        manifest = _new_manifest(path, reader, key, chunk_frames)
    todo = missing_chunks(path, manifest)
    if not todo:
        return with_feature_stats(path)  # an older cache gets its feature_stats.safetensors here
    n, step = reader.num_frames, int(manifest["chunk_frames"])
    log.info("caching %s layer %d for %d frames into %s (%d of %d chunks to do)", teacher.name, key["layer"],
             n, path, len(todo), manifest["num_chunks"])
    t0 = time.perf_counter()
    for k in tqdm(todo, desc=f"cache {path.name}", disable=not progress):
        lo, hi = k * step, min(n, (k + 1) * step)
        if hasattr(teacher, "features_from_dataset"):  # oracle3d: simulator geometry stored in the dataset
            feats = teacher.features_from_dataset(reader, key["views"], lo, hi, tuple(key["input_hw"]))
            feats = feats.to(torch.float16).numpy()
        else:
            images = read_frames(reader, key["views"], lo, hi, tuple(key["input_hw"]))
            feats = teacher_features(teacher, images, key["layer"], batch_size).numpy()
        with atomic_path(path / chunk_name(k)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, feats)
        done = set((read_manifest(path) or manifest)["complete_chunks"]) | {k}  # union: tolerate a parallel build
        manifest["complete_chunks"] = sorted(done)
        write_json(path / MANIFEST, manifest)
    log.info("cached %d chunks in %.1f s", len(todo), time.perf_counter() - t0)
    return with_feature_stats(path)


def _new_manifest(path: Path, reader: LeRobotDatasetReader, key: dict, chunk_frames: int) -> dict:
    """Start an empty cache: rows.npy and a manifest with no complete chunk."""
    if chunk_frames <= 0:
        views, (h, w), c = len(key["views"]), key["grid"], key["channels"]
        chunk_frames = int(max(1, min(4096, CHUNK_BYTES // (2 * views * h * w * c))))
    n = reader.num_frames
    path.mkdir(parents=True, exist_ok=True)
    rows = np.stack([np.arange(n), reader.columns["episode_index"].astype(np.int64),
                     reader.columns["frame_index"].astype(np.int64)], axis=1)
    with atomic_path(path / ROWS) as tmp, open(tmp, "wb") as fh:
        np.save(fh, rows)
    manifest = {"key": key, "chunk_frames": chunk_frames, "num_chunks": -(-n // chunk_frames),
                "complete_chunks": [], "pe": PE_NOTE, "rows": "rows.npy int64 [N, 3]: index, episode_index, "
                "frame_index", "format_version": FORMAT_VERSION, "dataset_root": str(reader.root.resolve())}
    write_json(path / MANIFEST, manifest)
    return manifest
