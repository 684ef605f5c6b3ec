"""What the probes are trained on: frames split by episode, ground-truth depth per view, object positions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.utils.errors import SFError

ENV_KEY = "observation.environment_state"  # xyz of the object slots (tabletop), NaN for absent props


def select_frames(reader: LeRobotDatasetReader, stride: int, max_frames: int,
                  heldout_every: int) -> tuple[np.ndarray, np.ndarray]:
    """(global frame indices, train mask): every `stride`-th frame of each episode, at most `max_frames`
    (evenly spaced); episodes whose index is a multiple of `heldout_every` are held out."""
    frame_index = reader.columns["frame_index"].ravel()
    frames = np.flatnonzero(frame_index % stride == 0)
    if len(frames) > max_frames:
        frames = frames[np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    episodes = reader.columns["episode_index"].ravel()[frames].astype(int)
    train = episodes % heldout_every != 0
    if train.all() or not train.any():
        raise SFError(f"{reader.root}: {len(set(episodes.tolist()))} episode(s) among the probed frames; the "
                      f"probe needs training episodes and held-out ones (index % {heldout_every} == 0)")
    return frames, train


def check_depth(reader: LeRobotDatasetReader, cameras: list[str]) -> None:
    missing = [c for c in cameras if f"observation.depth.{c}" not in reader.array_keys]
    if missing:
        raise SFError(f"{reader.root}: no depth for camera(s) {missing} (observation.depth.<cam>); generate "
                      f"the dataset with --record-geometry")


def read_depth(reader: LeRobotDatasetReader, cameras: list[str], frames: np.ndarray,
               size: int) -> torch.Tensor:
    """Metric z-depth [n, V, size, size] of the frames (nearest-neighbour resized: no mixed-up edges)."""
    check_depth(reader, cameras)
    views = []
    for cam in cameras:
        key, maps = f"observation.depth.{cam}", []
        for ep in sorted(set(reader.columns["episode_index"].ravel()[frames].astype(int).tolist())):
            lo, hi = reader.episode_range(ep)
            mine = frames[(frames >= lo) & (frames < hi)]
            maps.append(reader.array(key, int(mine.min()), int(mine.max()) + 1)[mine - mine.min()])
        views.append(torch.from_numpy(np.concatenate(maps)).float())
    depth = torch.stack(views, 1)
    if depth.shape[-1] != size:
        depth = F.interpolate(depth, size=(size, size), mode="nearest")
    return depth


def object_positions(reader: LeRobotDatasetReader, frames: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """(xyz columns [n, k] of the slots present in every probed frame, their names); None without them."""
    if ENV_KEY not in reader.columns:
        return None
    values = np.asarray(reader.columns[ENV_KEY][frames], np.float64).reshape(len(frames), -1)
    names = reader.features[ENV_KEY].get("names")
    names = next(iter(names.values())) if isinstance(names, dict) else names  # LeRobot's {"axes": [...]}
    if not names or len(names) != values.shape[1]:
        names = [f"{ENV_KEY}[{i}]" for i in range(values.shape[1])]
    keep = ~np.isnan(values).any(0) & (values.std(0) > 1e-9)  # present and not constant
    if not keep.any():
        return None
    return values[:, keep], [str(n) for n, k in zip(names, keep) if k]
