"""`sf teacher inspect`: how much of a teacher's features, and of the alignment targets built from them, is
shared by every frame at a position, and what a linear probe reads out of them.

On up to `max_frames` frames (whole episodes, seeded) it reports:
- position_variance_fraction: the share of the raw feature variance explained by the per-position mean
  (1 - E||f - mu_p||^2 / E||f - mu||^2, teacher grid); residual_fraction = 1 - that;
- position_only_cos: the cosine a predictor that outputs the mean target per token gets, with targets built
  as in training (normalisation, PE), at the teacher grid and at the student grid;
- probes: held-out-episode R^2 of linear probes (`teachers.probe`) of the gripper position
  (observation.state[:3]) and of every column of observation.environment_state, read out of the
  student-grid targets and, for comparison, out of the raw pixels (each view downsampled to 16 x 16).

Features come from the dataset's teacher cache when a complete one exists for this teacher, layer, views and
image size (`sf teacher cache`), else from running the teacher. All selected frames' features are held in
memory (float16).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from spatial_forcing.core.diagnostics import PositionMeanAccumulator, position_variance_fraction
from spatial_forcing.core.target_norm import TARGET_NORMS, FeatureStats, FeatureStatsAccumulator
from spatial_forcing.core.targets import build_targets
from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.images import resize_images
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.cache import FeatureCache, missing_chunks, read_manifest, stale_reason
from spatial_forcing.teachers.cache_build import read_frames, teacher_features
from spatial_forcing.teachers.cache_key import cache_key, default_cache_dir
from spatial_forcing.teachers.cache_stats import load_feature_stats
from spatial_forcing.teachers.probe import probe_r2, split_episodes
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

ENV_STATE_KEY = "observation.environment_state"
PIXEL_SIZE = 16  # pixel probe: each view downsampled to this square size
PART_FRAMES = 256  # frames turned into float32 targets at a time


def select_episodes(reader: LeRobotDatasetReader, max_frames: int, seed: int = 0) -> list[int]:
    """Whole episodes in a seeded random order, kept while the total stays <= max_frames; sorted."""
    order = np.random.default_rng(seed).permutation(len(reader.episodes))
    chosen, total = [], 0
    for i in order:
        e = reader.episodes[int(i)]
        if total + int(e["length"]) <= max_frames:
            chosen.append(int(e["episode_index"]))
            total += int(e["length"])
    if not chosen:
        shortest = min(int(e["length"]) for e in reader.episodes)
        raise SFError(f"--max-frames {max_frames} is smaller than every episode of {reader.root} "
                      f"(shortest: {shortest} frames)")
    return sorted(chosen)


def _frames(reader: LeRobotDatasetReader, episodes: Sequence[int]) -> np.ndarray:
    return np.concatenate([np.arange(*reader.episode_range(e)) for e in episodes])


def _images(reader: LeRobotDatasetReader, episodes: Sequence[int], views: Sequence[str],
            hw: tuple[int, int]) -> torch.Tensor:
    """uint8 [n, V, 3, H, W] of the episodes' frames, resized as training does."""
    return torch.cat([read_frames(reader, views, *reader.episode_range(e), hw) for e in episodes])


def _features(reader: LeRobotDatasetReader, teacher: Teacher, key: dict, frames: np.ndarray,
              images: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, FeatureStats | None, str]:
    """(float16 features [n, V, h, w, C], the cache's statistics or None, where they came from)."""
    path = default_cache_dir(reader.root, key)
    manifest = read_manifest(path)
    if manifest is not None and not stale_reason(manifest, key) and not missing_chunks(path, manifest):
        cache = FeatureCache(path, key)
        log.info("teacher features from cache %s", path)
        return cache[frames], load_feature_stats(path, cache), f"cache {path}"
    log.info("running teacher %s on %d frames (no complete cache at %s)", teacher.name, len(frames), path)
    return teacher_features(teacher, images, key["layer"], batch_size), None, "teacher"


def _parts(feats: torch.Tensor) -> Iterator[torch.Tensor]:
    for part in feats.split(PART_FRAMES):
        yield part.float()


def _column_names(reader: LeRobotDatasetReader, key: str, count: int, prefix: str) -> list[str]:
    names = reader.features.get(key, {}).get("names")
    if isinstance(names, dict):  # LeRobot also writes {"axes": [...]}
        names = next(iter(names.values()), None)
    if isinstance(names, list) and len(names) >= count and all(isinstance(n, str) for n in names[:count]):
        return list(names[:count])
    return [f"{prefix}[{i}]" for i in range(count)]


def _probe_columns(reader: LeRobotDatasetReader,
                   frames: np.ndarray) -> dict[str, tuple[list[str], np.ndarray]]:
    """group -> (column names, values [n, k]) of the probe targets the dataset has."""
    out = {}
    if fmt.STATE_KEY in reader.columns and reader.columns[fmt.STATE_KEY].shape[1] >= 3:
        out["gripper_position"] = (_column_names(reader, fmt.STATE_KEY, 3, "state"),
                                   reader.columns[fmt.STATE_KEY][frames, :3].astype(np.float64))
    if ENV_STATE_KEY in reader.columns:
        values = reader.columns[ENV_STATE_KEY][frames].reshape(len(frames), -1).astype(np.float64)
        out["environment_state"] = (_column_names(reader, ENV_STATE_KEY, values.shape[1], "env"), values)
    return out


def _number(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def _probes(reader: LeRobotDatasetReader, frames: np.ndarray, x_targets: torch.Tensor,
            x_pixels: torch.Tensor, seed: int) -> dict[str, Any]:
    episodes = reader.columns["episode_index"][frames] if "episode_index" in reader.columns else None
    if episodes is None or len(np.unique(episodes)) < 3:
        count = 0 if episodes is None else len(np.unique(episodes))
        return {"skipped": f"needs at least 3 episodes, got {count} (raise --max-frames)"}
    fit, val, test = split_episodes(episodes, seed)
    out: dict[str, Any] = {"split": {name: int(len(np.unique(episodes[m]))) for name, m in
                                     (("fit_episodes", fit), ("val_episodes", val), ("test_episodes", test))}}
    for group, (names, y) in _probe_columns(reader, frames).items():
        r2_t = probe_r2(x_targets, y, episodes, seed)
        r2_p = probe_r2(x_pixels, y, episodes, seed)
        columns = {n: {"targets": _number(a), "pixels": _number(b)} for n, a, b in zip(names, r2_t, r2_p)
                   if math.isfinite(a) or math.isfinite(b)}
        out[group] = {
            "columns": columns,
            "mean": {src: _mean([c[src] for c in columns.values()]) for src in ("targets", "pixels")},
            "skipped": [n for n in names if n not in columns],
        }
    return out


def inspect_teacher(dataset: str | Path | LeRobotDatasetReader, teacher: Teacher, layer: int = -1,
                    cameras: Sequence[str] = ("agentview", "wrist"), image_size: int | None = None,
                    student_grid: int = 8, target_norm: str = "none", gamma: float = 0.6, use_pe: bool = True,
                    pe_scale: float = 0.1, max_frames: int = 2000, seed: int = 0,
                    batch_size: int = 32) -> dict[str, Any]:
    """The report of `sf teacher inspect` as a JSON-ready dict (None where a number is undefined)."""
    if target_norm not in TARGET_NORMS:
        raise SFError(f"--target-norm must be one of {TARGET_NORMS}, got {target_norm!r}")
    if max_frames < 1 or student_grid < 1:
        raise SFError(f"--max-frames and --student-grid must be >= 1, got {max_frames} and {student_grid}")
    reader = dataset if isinstance(dataset, LeRobotDatasetReader) else LeRobotDatasetReader(dataset)
    key = cache_key(reader, teacher, layer, cameras, image_size)
    episodes = select_episodes(reader, max_frames, seed)
    frames = _frames(reader, episodes)
    images = _images(reader, episodes, key["views"], tuple(key["input_hw"]))
    feats, cache_stats, source = _features(reader, teacher, key, frames, images, batch_size)

    acc = FeatureStatsAccumulator()
    for part in _parts(feats):
        acc.update(part)
    stats = acc.result()
    norm_stats = cache_stats or stats  # as training: the cache's statistics when there is a cache
    grid, sgrid = tuple(feats.shape[2:4]), (student_grid, student_grid)
    at_teacher, at_student, probe_x = PositionMeanAccumulator(), PositionMeanAccumulator(), []
    for part in _parts(feats):
        options = dict(use_pe=use_pe, pe_scale=pe_scale, norm=target_norm, gamma=gamma, stats=norm_stats)
        at_teacher.update(build_targets(part, grid, **options)[0])
        targets = build_targets(part, sgrid, **options)[0]
        at_student.update(targets)
        probe_x.append(targets.flatten(1))
    pixels = resize_images(images.flatten(0, 1), (PIXEL_SIZE, PIXEL_SIZE)).reshape(len(frames), -1)
    fraction = position_variance_fraction(stats.mean, stats.std)
    return {
        "dataset": str(reader.root), "teacher": teacher.name, "layer": key["layer"], "features_from": source,
        "frames": int(len(frames)), "episodes": len(episodes), "views": key["views"],
        "input_hw": key["input_hw"], "teacher_grid": list(grid), "student_grid": list(sgrid),
        "channels": int(feats.shape[-1]), "target_norm": target_norm, "target_norm_gamma": gamma,
        "use_pe": use_pe, "pe_scale": pe_scale,
        "position_variance_fraction": fraction, "residual_fraction": 1.0 - fraction,
        "position_only_cos": {"teacher_grid": at_teacher.result()[1], "student_grid": at_student.result()[1]},
        "probes": _probes(reader, frames, torch.cat(probe_x), pixels.float() / 255.0, seed),
    }


def _show(value: float | None) -> str:
    return "      n/a" if value is None else f"{value:9.3f}"


def format_report(report: dict[str, Any]) -> str:
    """The human-readable lines `sf teacher inspect` prints."""
    g, s = report["teacher_grid"], report["student_grid"]
    pos = report["position_only_cos"]
    lines = [
        f"teacher {report['teacher']} layer {report['layer']} on {report['dataset']}: {report['frames']} "
        f"frames of {report['episodes']} episodes, features from {report['features_from']}",
        f"teacher grid {g[0]}x{g[1]}, student grid {s[0]}x{s[1]}, {report['channels']} channels; target_norm "
        f"{report['target_norm']}, PE {'on (scale %g)' % report['pe_scale'] if report['use_pe'] else 'off'}",
        f"position variance fraction  {report['position_variance_fraction']:.3f}  "
        f"(residual {report['residual_fraction']:.3f})",
        f"position-only cosine        teacher grid {pos['teacher_grid']:.3f}  "
        f"student grid {pos['student_grid']:.3f}",
    ]
    probes = report["probes"]
    if "skipped" in probes:
        return "\n".join(lines + [f"probes skipped: {probes['skipped']}"])
    split = probes["split"]
    rows = []
    for group in ("gripper_position", "environment_state"):
        if group in probes:
            rows += [(f"{group}.{name}", r2) for name, r2 in probes[group]["columns"].items()]
            rows.append((f"{group} (mean)", probes[group]["mean"]))
    width = max([len(label) for label, _ in rows] + [20])
    lines.append(f"linear-probe R^2 on {split['test_episodes']} held-out episodes (fit on "
                 f"{split['fit_episodes']}, lambda chosen on {split['val_episodes']}):")
    lines.append(f"  {'':<{width}} {'targets':>9} {f'pixels{PIXEL_SIZE}':>9}")
    lines += [f"  {label:<{width}} {_show(r2['targets'])} {_show(r2['pixels'])}" for label, r2 in rows]
    for group in ("gripper_position", "environment_state"):
        if probes.get(group, {}).get("skipped"):
            lines.append(f"  {group}: not probed (no values in a split, or none vary on the test episodes): "
                         f"{', '.join(probes[group]['skipped'])}")
    return "\n".join(lines)
