"""Write a LeRobotDataset v3 directory, atomically: everything goes to a temporary sibling directory that is
renamed onto `root` by `finalize()`, so a crash never leaves a half dataset that loads."""

from __future__ import annotations

import copy
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.stats import ArrayStatsAccumulator, ImageStatsAccumulator, vector_stats
from spatial_forcing.data.video import VideoEncoder
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


class LeRobotWriter:
    """Collect frames episode by episode and write a LeRobot v3 dataset.

    `features` lists the user features (e.g. images, observation.state, action); the index columns
    (timestamp, frame_index, episode_index, index, task_index) are added automatically. Image features
    of dtype "image" are stored as PNG inside the data parquet, dtype "video" as MP4 (libx264, lossy).
    Numeric features of two or more dimensions (depth maps, camera matrices) are nested fixed-size list
    columns, with scalar stats over all their values.
    Use as a context manager to discard the temporary directory on error.
    """

    def __init__(self, root: str | Path, fps: int, features: dict[str, dict[str, Any]],
                 robot_type: str | None = None, overwrite: bool = False) -> None:
        self.root = Path(root)
        if self.root.exists() and not overwrite:
            raise SFError(f"output {self.root} already exists; choose another path or remove it")
        self.fps = int(fps)
        self.robot_type = robot_type
        self.features = copy.deepcopy(dict(features))
        for key, ft in self.features.items():
            if key in fmt.DEFAULT_FEATURES:
                raise SFError(f"feature {key!r} is an index column the writer fills in; remove it")
            if ft.get("dtype") not in ("image", "video", "string") and not _is_numeric(ft.get("dtype")):
                raise SFError(f"feature {key!r} has unsupported dtype {ft.get('dtype')!r}")
            ft["shape"] = [int(s) for s in ft["shape"]]
        self.all_features = {**self.features, **copy.deepcopy(fmt.DEFAULT_FEATURES)}
        self.tmp = self.root.parent / f".{self.root.name}.tmp-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self.tasks: list[str] = []
        self.episodes: list[dict[str, Any]] = []
        self.total_frames = 0
        self._frames: list[dict[str, Any]] = []  # the episode being recorded
        self._file_rows: dict[str, list] = {k: [] for k in self.all_features if not self._is_video(k)}
        self._file_bytes = 0
        self._data_file = 0  # running number of the data file being filled
        self._video_file = 0
        self._video_enc: dict[str, VideoEncoder] = {}
        self._numeric: dict[str, list[np.ndarray]] = {k: [] for k, f in self.all_features.items()
                                                      if _is_numeric(f["dtype"]) and not fmt.is_array(f)}
        self._array_stats = {k: ArrayStatsAccumulator() for k, f in self.features.items() if fmt.is_array(f)}
        self._image_stats = {k: ImageStatsAccumulator() for k, f in self.features.items() if fmt.is_visual(f)}
        self._done = False

    def _is_video(self, key: str) -> bool:
        return self.all_features[key]["dtype"] == "video"

    def add_frame(self, frame: dict[str, Any]) -> None:
        """Buffer one frame: a value for every user feature (images uint8 [H, W, 3])."""
        missing = set(self.features) - set(frame)
        extra = set(frame) - set(self.features)
        if missing or extra:
            raise SFError(f"frame keys do not match the features: missing {sorted(missing)}, "
                          f"extra {sorted(extra)}")
        checked = {}
        for key, ft in self.features.items():
            value = frame[key]
            if ft["dtype"] == "string":
                checked[key] = str(value)
                continue
            arr = np.asarray(value)
            want = tuple(ft["shape"])
            if fmt.is_visual(ft):
                if arr.dtype != np.uint8 or arr.shape != want:
                    raise SFError(f"feature {key!r}: expected uint8 {want}, got {arr.dtype} {arr.shape}")
            else:
                arr = arr.astype(ft["dtype"]).reshape(-1)
                if arr.shape != (int(np.prod(want)),):
                    raise SFError(f"feature {key!r}: expected shape {want}, got {np.shape(value)}")
            checked[key] = arr
        self._frames.append(checked)

    def save_episode(self, task: str) -> int:
        """Close the episode being recorded under the instruction `task`; returns its episode_index."""
        if not self._frames:
            raise SFError("save_episode called with no frames; call add_frame first")
        if task not in self.tasks:
            self.tasks.append(task)
        ep, length, start = len(self.episodes), len(self._frames), self.total_frames
        frames, self._frames = self._frames, []
        index_cols = {"timestamp": np.arange(length, dtype=np.float32) / self.fps,
                      "frame_index": np.arange(length), "episode_index": np.full(length, ep),
                      "index": np.arange(start, start + length),
                      "task_index": np.full(length, self.tasks.index(task))}
        if self._file_bytes > fmt.DATA_FILE_SIZE_MB * 2**20:
            self._flush_data()
        chunk, file = fmt.chunk_file(self._data_file)
        row = {"episode_index": ep, "tasks": [task], "length": length, "data/chunk_index": chunk,
               "data/file_index": file, "dataset_from_index": start, "dataset_to_index": start + length,
               "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
        for key, ft in self.all_features.items():
            values = index_cols[key] if key in index_cols else [f[key] for f in frames]
            if key in self._array_stats:  # multi-dimensional: whole blocks, scalar stats
                arr = np.asarray(values, dtype=ft["dtype"]).reshape(length, -1)
                self._array_stats[key].add(arr)
                self._file_rows[key].append(arr)
                self._file_bytes += arr.nbytes
            elif _is_numeric(ft["dtype"]):
                arr = np.asarray(values, dtype=ft["dtype"]).reshape(length, -1)
                self._numeric[key].append(arr)
                self._file_rows[key].extend(arr[:, 0] if ft["shape"] == [1] else list(arr))
                self._file_bytes += arr.nbytes
            elif ft["dtype"] == "image":
                stack = np.stack(values)
                self._image_stats[key].add(stack)
                pngs = [fmt.encode_png(img) for img in values]
                self._file_rows[key].extend({"bytes": b, "path": None} for b in pngs)
                self._file_bytes += sum(len(b) for b in pngs)
            elif ft["dtype"] == "video":
                self._image_stats[key].add(np.stack(values))
                row.update(self._append_video(key, values))
            else:
                self._file_rows[key].extend(values)
        self.episodes.append(row)
        self.total_frames += length
        return ep

    def _append_video(self, key: str, frames: list[np.ndarray]) -> dict[str, Any]:
        enc = self._video_enc.get(key)
        if enc is not None and enc.path.stat().st_size > fmt.VIDEO_FILE_SIZE_MB * 2**20:
            self._close_videos()
            self._video_file += 1
            enc = None
        chunk, file = fmt.chunk_file(self._video_file)
        if enc is None:
            h, w, _ = self.features[key]["shape"]
            path = self.tmp / fmt.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
            enc = self._video_enc[key] = VideoEncoder(path, self.fps, h, w)
        start = enc.num_frames / self.fps
        for img in frames:
            enc.add(img)
        return {f"videos/{key}/chunk_index": chunk, f"videos/{key}/file_index": file,
                f"videos/{key}/from_timestamp": start,
                f"videos/{key}/to_timestamp": enc.num_frames / self.fps}

    def _close_videos(self) -> None:
        for enc in self._video_enc.values():
            enc.close()
        self._video_enc = {}

    def _flush_data(self) -> None:
        """Write the buffered rows as the next data parquet file."""
        if not self._file_rows["index"]:
            return
        chunk, file = fmt.chunk_file(self._data_file)
        cols = {k: fmt.array_column(np.concatenate(v), self.all_features[k]) if k in self._array_stats
                else pa.array(v, type=fmt.arrow_type(self.all_features[k]))
                for k, v in self._file_rows.items()}
        path = self.tmp / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols), path)
        self._file_rows = {k: [] for k in self._file_rows}
        self._file_bytes = 0
        self._data_file += 1

    def compute_stats(self) -> dict[str, dict[str, list]]:
        """Stats of every numeric and visual feature over all saved frames."""
        stats = {k: vector_stats(np.concatenate(v)) for k, v in self._numeric.items() if v}
        stats.update({k: acc.result() for k, acc in self._image_stats.items() if acc.count})
        stats.update({k: acc.result() for k, acc in self._array_stats.items() if acc.count})
        return stats

    def finalize(self) -> Path:
        """Write metadata and stats, then move the dataset into place. Returns `root`."""
        if self._done:
            raise SFError(f"dataset {self.root} was already finalized")
        if self._frames:
            raise SFError("finalize called with an unsaved episode; call save_episode first")
        if not self.episodes:
            raise SFError(f"no episodes to write to {self.root}")
        self._flush_data()
        self._close_videos()
        ep_cols = {k: [e.get(k) for e in self.episodes] for k in self.episodes[0]}
        ep_path = self.tmp / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0)
        ep_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(ep_cols), ep_path)
        pq.write_table(fmt.tasks_table(self.tasks), self.tmp / fmt.TASKS_PATH)
        write_json(self.tmp / fmt.STATS_PATH, self.compute_stats())
        write_json(self.tmp / fmt.INFO_PATH, self._info())
        if self.root.exists():  # overwrite=True: swap, then delete the old copy
            trash = self.root.parent / f".{self.root.name}.old-{os.getpid()}"
            os.rename(self.root, trash)
            os.rename(self.tmp, self.root)
            shutil.rmtree(trash)
        else:
            os.rename(self.tmp, self.root)
        self._done = True
        log.info("wrote %d episodes / %d frames to %s", len(self.episodes), self.total_frames, self.root)
        return self.root

    def _info(self) -> dict[str, Any]:
        features = copy.deepcopy(self.all_features)
        for key, ft in features.items():
            if ft["dtype"] == "video":
                h, w, c = ft["shape"]
                ft["info"] = {"video.height": h, "video.width": w, "video.codec": "h264",
                              "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                              "video.fps": self.fps, "video.channels": c, "has_audio": False}
            else:
                ft["fps"] = self.fps
        has_video = any(f["dtype"] == "video" for f in features.values())
        return {"codebase_version": fmt.CODEBASE_VERSION, "robot_type": self.robot_type,
                "total_episodes": len(self.episodes), "total_frames": self.total_frames,
                "total_tasks": len(self.tasks), "chunks_size": fmt.CHUNKS_SIZE,
                "data_files_size_in_mb": fmt.DATA_FILE_SIZE_MB,
                "video_files_size_in_mb": fmt.VIDEO_FILE_SIZE_MB,
                "fps": self.fps, "splits": {"train": f"0:{len(self.episodes)}"}, "data_path": fmt.DATA_PATH,
                "video_path": fmt.VIDEO_PATH if has_video else None, "features": features}

    def abort(self) -> None:
        """Discard everything written so far."""
        self._close_videos()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._done = True

    def __enter__(self) -> "LeRobotWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self._done:
            self.abort()


def _is_numeric(dtype: Any) -> bool:
    try:
        return isinstance(dtype, str) and np.dtype(dtype).kind in "biuf"
    except TypeError:
        return False
