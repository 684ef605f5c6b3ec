"""Teacher-feature cache on disk: read side.

Layout of one cache directory (a sidecar beside the dataset, see `cache_key.default_cache_dir`):

    manifest.json          {"key": cache_key(...), "chunk_frames", "num_chunks", "complete_chunks", "pe", ...}
    rows.npy               int64 [N, 3]: (global index, episode_index, frame_index) of every row
    chunk-00000.npy ...    float16 [n, V, h, w, C]: rows [k * chunk_frames, (k + 1) * chunk_frames)

Row i is global frame index i of the dataset. Chunks are written atomically and listed in the manifest
only once complete, so an interrupted build resumes where it stopped (`cache_build.build_cache`).
Reading memory-maps the chunks; a stale (key mismatch) or partial cache is refused with an SFError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatial_forcing.teachers.cache_key import key_mismatch
from spatial_forcing.utils.errors import SFError, detail

MANIFEST = "manifest.json"
ROWS = "rows.npy"


def chunk_name(k: int) -> str:
    """File name of chunk k."""
    return f"chunk-{k:05d}.npy"


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of cache directory `path`, or None if there is none."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise SFError(f"corrupt cache manifest {file}: {err}") from None


def stale_reason(manifest: dict[str, Any], key: dict[str, Any]) -> str | None:
    """Why a stored cache does not fit `key` (first differing field), or None if it does."""
    return key_mismatch(manifest.get("key", {}), key)


def missing_chunks(path: str | Path, manifest: dict[str, Any]) -> list[int]:
    """Chunks not listed as complete, or listed but absent on disk."""
    done = set(manifest.get("complete_chunks", []))
    return [k for k in range(int(manifest["num_chunks"]))
            if k not in done or not (Path(path) / chunk_name(k)).is_file()]


class FeatureCache:
    """A complete, verified cache: `cache[global_indices]` -> float16 tensor [B, V, h, w, C]."""

    def __init__(self, path: str | Path, key: dict[str, Any] | None = None) -> None:
        """Open `path`; with `key`, refuse a cache built for anything else (dataset, teacher, layer, ...)."""
        self.path = Path(path)
        manifest = read_manifest(self.path)
        if manifest is None:
            raise SFError(f"no teacher-feature cache at {self.path} (missing {MANIFEST}); "
                          f"build it with `sf teacher cache`")
        if key is not None:
            reason = stale_reason(manifest, key)
            if reason:
                raise SFError(f"stale teacher-feature cache {self.path}: {reason}; delete it or rebuild it "
                              f"with --overwrite (sf train or sf teacher cache)")
        missing = missing_chunks(self.path, manifest)
        if missing:
            raise SFError(f"partial teacher-feature cache {self.path}: {len(missing)} of {manifest['num_chunks']} "
                          f"chunks missing (first {missing[:5]}); rerun `sf teacher cache` to finish it")
        self.manifest = manifest
        self.key = manifest["key"]
        self.chunk_frames = int(manifest["chunk_frames"])
        self.num_frames = int(self.key["dataset"]["num_frames"])
        self.rows = np.load(self.path / ROWS)
        self._chunks: dict[int, np.ndarray] = {}
        grid, channels = self.key["grid"], self.key["channels"]
        self.row_shape = (len(self.key["views"]), int(grid[0]), int(grid[1]), int(channels))

    def chunk(self, k: int) -> np.ndarray:
        """Memory-mapped chunk k, float16 [n, V, h, w, C] (opened once, then reused)."""
        if k not in self._chunks:
            file = self.path / chunk_name(k)
            try:
                arr = np.load(file, mmap_mode="r")
            except (OSError, ValueError, EOFError) as err:  # e.g. "mmap length is greater than file size"
                raise SFError(f"{file}: truncated or unreadable cache chunk ({detail(err)}); delete it and "
                              f"rerun `sf teacher cache` (or sf train) to recompute it") from None
            expected = min(self.chunk_frames, self.num_frames - k * self.chunk_frames)
            if arr.dtype != np.float16 or arr.shape != (expected, *self.row_shape):
                raise SFError(f"{self.path / chunk_name(k)}: holds {arr.dtype} {arr.shape}, expected "
                              f"float16 {(expected, *self.row_shape)}")
            self._chunks[k] = arr
        return self._chunks[k]

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, indices: torch.Tensor | np.ndarray | list[int]) -> torch.Tensor:
        """Features of global frame indices [B] -> float16 [B, V, h, w, C] (a copy; the maps stay read-only)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_frames):
            raise IndexError(f"frame index out of range [0, {self.num_frames}) for cache {self.path}")
        out = np.empty((idx.size, *self.row_shape), dtype=np.float16)
        chunk_ids, offsets = np.divmod(idx, self.chunk_frames)
        for k in np.unique(chunk_ids):
            sel = chunk_ids == k
            out[sel] = self.chunk(int(k))[offsets[sel]]
        # Checked on every read (the rows read only: cheap next to a training step), since a NaN here would
        # silently make the alignment loss, then every weight, NaN.
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        if bad.any():
            raise SFError(f"{self.path / chunk_name(int(chunk_ids[bad][0]))}: cached teacher features hold NaN "
                          f"or inf; delete the cache or rebuild it with --overwrite")
        return torch.from_numpy(out)
