"""A torch Dataset of (images, state, action chunk) samples from a LeRobot v3 dataset, all in memory.

Images are decoded once into a uint8 tensor cache (optionally resized), state and actions are normalised
once; `__getitem__` only slices tensors, which keeps CPU training input-bound by nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.images import resize_images, to_unit
from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.data.stats import vector_stats
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


class ChunkDataset(Dataset):
    """Per-frame samples with the next `chunk` actions.

    Item keys: "images" float32 [V, 3, H, W] in [0, 1] (views in `cameras` order), "state" float32 [S]
    normalised, "actions" float32 [chunk, A] normalised (actions t..t+chunk-1, the episode's last action
    repeated past its end), "action_is_pad" bool [chunk], "task_index"/"episode_index"/"frame_index"/"index"
    long scalars, "instruction" str.

    Normalisation uses meta/stats.json of the whole dataset (computed from the data if absent), even when
    `episodes` selects a subset, so subsets of one dataset share one normaliser (`self.normalizer`).
    """

    def __init__(self, root: str | Path, chunk: int = 8, cameras: Sequence[str] = ("agentview", "wrist"),
                 image_size: int | tuple[int, int] | None = None, normalization: str = "q99",
                 episodes: Sequence[int] | None = None, stats: dict | None = None) -> None:
        if chunk < 1:
            raise SFError(f"chunk must be >= 1, got {chunk}")
        self.reader = reader = LeRobotDatasetReader(root)
        self.chunk = int(chunk)
        self.cameras = tuple(cameras)
        for key in (fmt.STATE_KEY, fmt.ACTION_KEY, "task_index", "episode_index", "frame_index"):
            if key not in reader.columns:
                raise SFError(f"{reader.root / fmt.INFO_PATH}: dataset has no numeric feature {key!r}")
        known = [int(e["episode_index"]) for e in reader.episodes]
        self.episodes = known if episodes is None else sorted({int(e) for e in episodes})
        unknown = sorted(set(self.episodes) - set(known))
        if unknown:
            raise SFError(f"episodes {unknown[:5]} are not in {reader.root} (it has {len(known)} episodes)")
        if not self.episodes:
            raise SFError("episodes selects no episode")
        self.stats, self.normalizer = self._normalizer(stats, normalization)

        ranges = [reader.episode_range(e) for e in self.episodes]
        rows = np.concatenate([np.arange(lo, hi) for lo, hi in ranges])
        self.num_samples = len(rows)
        # Local (cache) position of every selected frame, and [start, end) of its episode in local positions.
        lengths = np.array([hi - lo for lo, hi in ranges])
        local_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self._ep_start = torch.from_numpy(np.repeat(local_starts, lengths))
        self._ep_end = torch.from_numpy(np.repeat(local_starts + lengths, lengths))
        col = reader.columns
        norm = self.normalizer.normalize
        self.state = norm(fmt.STATE_KEY, torch.from_numpy(col[fmt.STATE_KEY][rows]).float())
        self.actions = norm(fmt.ACTION_KEY, torch.from_numpy(col[fmt.ACTION_KEY][rows]).float())
        self.task_index = torch.from_numpy(col["task_index"][rows].astype(np.int64))
        self.episode_index = torch.from_numpy(col["episode_index"][rows].astype(np.int64))
        self.frame_index = torch.from_numpy(col["frame_index"][rows].astype(np.int64))
        self.index = torch.from_numpy(rows.astype(np.int64))
        self.image_size = _pair(image_size)
        self.images = self._cache_images()  # uint8 [N, V, 3, H, W]

    def _normalizer(self, stats: dict | None, mode: str) -> tuple[dict, Normalizer]:
        """(stats, normaliser): `stats` if given (validation data normalised as its training data), else
        meta/stats.json, else stats computed from the data; checked, since NaN or misshapen stats would
        otherwise normalise every sample to NaN (or fail much later)."""
        reader, keys = self.reader, (fmt.STATE_KEY, fmt.ACTION_KEY)
        source, hint = "the training data's normalisation stats", ""
        if not stats:
            stats, source = reader.stats or {}, str(reader.root / fmt.STATS_PATH)
            hint = "; fix the file or delete it to recompute the stats from the data"
            if not isinstance(stats, dict):
                raise SFError(f"{source}: expected a JSON object of per-feature stats{hint}")
            if not all(isinstance(stats.get(k), dict) and "q01" in stats[k] for k in keys):
                log.warning("%s has no usable meta/stats.json; computing stats from the data", reader.root)
                stats = {k: vector_stats(reader.columns[k]) for k in keys}
                source, hint = f"the statistics computed from the data of {reader.root}", ""
        try:
            normalizer = Normalizer(stats, mode=mode, source=source)
        except SFError as err:
            raise SFError(f"{err}{hint}") from None
        for key in keys:
            dim = reader.columns[key].shape[1] if reader.columns[key].ndim == 2 else 1
            if normalizer.dim(key) != dim:
                raise SFError(f"{source}: {key!r} stats have {normalizer.dim(key)} values, but the data has "
                              f"{dim}{hint}")
        return stats, normalizer

    def _cache_images(self) -> torch.Tensor:
        views = []
        for cam in self.cameras:
            key = fmt.image_key(cam)
            if key not in self.reader.features:
                raise SFError(f"{self.reader.root / fmt.INFO_PATH}: no camera {key!r}; "
                              f"has {self.reader.camera_keys}")
            imgs = torch.from_numpy(self.reader.images(key, self.episodes)).permute(0, 3, 1, 2)
            if self.image_size is not None and tuple(imgs.shape[-2:]) != self.image_size:
                imgs = torch.cat([resize_images(b, self.image_size) for b in imgs.split(256)])
            views.append(imgs.contiguous())
        return torch.stack(views, dim=1)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.num_samples:
            raise IndexError(f"sample {i} out of range [0, {self.num_samples})")
        steps = i + torch.arange(self.chunk)
        end = int(self._ep_end[i])
        pad = steps >= end
        actions = self.actions[steps.clamp(max=end - 1)]
        task = int(self.task_index[i])
        return {
            "images": to_unit(self.images[i]),  # as `data.images.model_images` at evaluation
            "state": self.state[i],
            "actions": actions,
            "action_is_pad": pad,
            "task_index": self.task_index[i],
            "instruction": self.reader.tasks[task],
            "episode_index": self.episode_index[i],
            "frame_index": self.frame_index[i],
            "index": self.index[i],
        }

    @property
    def instructions(self) -> list[str]:
        """All task strings, by task_index."""
        return list(self.reader.tasks)


def select_episodes(root_or_reader: str | Path | LeRobotDatasetReader, fraction: float = 1.0,
                    per_task: int | None = None, seed: int = 0) -> list[int]:
    """A deterministic subset of episode indices: `per_task` episodes (or `fraction` of them, at least 1)
    of every task, drawn with `seed`. For data-efficiency experiments."""
    reader = root_or_reader
    if not isinstance(reader, LeRobotDatasetReader):
        reader = LeRobotDatasetReader(reader)
    if not 0.0 < fraction <= 1.0:
        raise SFError(f"fraction must be in (0, 1], got {fraction}")
    by_task: dict[int, list[int]] = {}
    for e in reader.episodes:
        first = int(e["dataset_from_index"])
        by_task.setdefault(int(reader.columns["task_index"][first]), []).append(int(e["episode_index"]))
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for task in sorted(by_task):
        eps = sorted(by_task[task])
        n = per_task if per_task is not None else max(1, int(round(fraction * len(eps))))
        chosen.extend(int(x) for x in rng.permutation(eps)[: min(n, len(eps))])
    return sorted(chosen)


def _pair(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
