"""Read a LeRobotDataset v3 directory (ours or one written by LeRobot) into memory.

Numeric columns become numpy arrays at load time; images are decoded on demand (`frame(i)`) or in bulk
(`images(key)`), PNG bytes from the parquet or frames from MP4 files. Multi-dimensional numeric features
(depth maps, segmentation, camera matrices) can be large, so they are read from the parquet files only on
request (`array(key, lo, hi)`, `frame(i)`). Anything missing or inconsistent raises
an SFError whose one-line message names the offending file.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.video import decode_video
from spatial_forcing.utils.errors import SFError, detail


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    if not path.is_file():
        raise SFError(f"missing file {path}")
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as err:
        raise SFError(f"cannot read parquet {path}: {str(err).splitlines()[0]}") from None


def _parquet_columns(path: Path) -> list[str]:
    if not path.is_file():
        raise SFError(f"missing file {path}")
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError) as err:
        raise SFError(f"cannot read parquet {path}: {str(err).splitlines()[0]}") from None


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise SFError(f"missing file {path}: not a LeRobot v3 dataset root")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SFError(f"corrupt JSON in {path}: {err}") from None


class LeRobotDatasetReader:
    """A LeRobot v3 dataset on disk.

    Attributes: `info` (meta/info.json), `features`, `fps`, `tasks` (list of task strings by task_index),
    `episodes` (list of dicts, one per episode, sorted by episode_index, stats columns dropped), `stats`
    (meta/stats.json or None), `num_frames`, `num_episodes`, `columns` (scalar and 1-d numeric feature ->
    ndarray [N] / [N, D]), `array_keys` (multi-dimensional numeric features, see `array`).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise SFError(f"{self.root} is a file, expected a dataset directory (LeRobot v3)")
        if not self.root.is_dir():
            raise SFError(f"dataset directory {self.root} does not exist")
        info_path = self.root / fmt.INFO_PATH
        self.info: dict[str, Any] = _read_json(info_path)
        version = str(self.info.get("codebase_version", "?"))
        if not version.startswith("v3."):
            raise SFError(f"{info_path}: unsupported codebase_version {version!r}; expected v3.x "
                          f"(convert older datasets with lerobot's v2.1->v3 converter)")
        try:
            self.features: dict[str, dict[str, Any]] = self.info["features"]
            self.fps = int(self.info["fps"])
        except (KeyError, TypeError, ValueError) as err:
            raise SFError(f"{info_path}: missing or bad field {err}") from None
        self.tasks = self._load_tasks()
        self.episodes = self._load_episodes()
        stats_path = self.root / fmt.STATS_PATH
        self.stats: dict[str, Any] | None = _read_json(stats_path) if stats_path.is_file() else None
        self._load_data()

    # ------------------------------------------------------------------ metadata
    def _load_tasks(self) -> list[str]:
        table = _read_parquet(self.root / fmt.TASKS_PATH)
        names = table.column_names
        text_col = next((c for c in ("task", "__index_level_0__") if c in names), None)
        if "task_index" not in names or text_col is None:
            raise SFError(f"{self.root / fmt.TASKS_PATH}: expected columns task_index and task, got {names}")
        pairs = sorted(zip(table.column("task_index").to_pylist(), table.column(text_col).to_pylist()))
        return [t for _, t in pairs]

    def _load_episodes(self) -> list[dict[str, Any]]:
        files = sorted((self.root / fmt.EPISODES_DIR).glob("chunk-*/file-*.parquet"))
        if not files:
            raise SFError(f"missing episode metadata {self.root / fmt.EPISODES_DIR}/chunk-*/file-*.parquet")
        rows: list[dict[str, Any]] = []
        for path in files:
            table = _read_parquet(path)
            keep = [c for c in table.column_names if not c.startswith("stats/")]
            need = {"episode_index", "length", "dataset_from_index", "dataset_to_index"}
            if not need <= set(keep):
                raise SFError(f"{path}: missing columns {sorted(need - set(keep))}")
            rows.extend(table.select(keep).to_pylist())
        return sorted(rows, key=lambda r: r["episode_index"])

    # ------------------------------------------------------------------ frame data
    def _load_data(self) -> None:
        files = sorted({(int(e.get("data/chunk_index", 0)), int(e.get("data/file_index", 0)))
                        for e in self.episodes})
        template = self.info.get("data_path", fmt.DATA_PATH)
        self._image_cols: dict[str, list] = {k: [] for k, f in self.features.items() if f["dtype"] == "image"}
        self.array_keys = [k for k, f in self.features.items() if fmt.is_array(f)]
        numeric = {k: [] for k, f in self.features.items()
                   if f["dtype"] not in ("image", "video", "string") and k not in self.array_keys}
        self._file_spans: list[tuple[Path, int, int]] = []  # (data file, first global frame, end) per file
        total = 0
        for chunk, file in files:
            path = self.root / template.format(chunk_index=chunk, file_index=file)
            names = _parquet_columns(path)
            missing = [k for k in [*numeric, *self._image_cols, *self.array_keys] if k not in names]
            if missing:
                raise SFError(f"{path}: missing columns {missing} listed in meta/info.json")
            self._check_array_schema(path)
            table = _read_parquet(path, [c for c in names if c not in self.array_keys])
            self._file_spans.append((path, total, total + table.num_rows))
            total += table.num_rows
            for key in numeric:
                values = _column_to_numpy(table.column(key), self.features[key]["dtype"], path, key)
                self._check_vector_shape(path, key, values)
                numeric[key].append(values)
            for key in self._image_cols:
                self._image_cols[key].extend(v["bytes"] if v is not None else None
                                             for v in table.column(key).to_pylist())
        self.columns: dict[str, np.ndarray] = {k: np.concatenate(v) for k, v in numeric.items()}
        self.num_frames = total
        self.num_episodes = len(self.episodes)
        expected = int(self.info.get("total_frames", total))
        lengths = sum(int(e["length"]) for e in self.episodes)
        data_dir = self.root / "data"
        if total != expected or lengths != total:
            raise SFError(f"{data_dir}: frame counts disagree: parquet rows {total}, "
                          f"meta/info.json total_frames {expected}, episode lengths {lengths}")
        for e in self.episodes:
            lo, hi = int(e["dataset_from_index"]), int(e["dataset_to_index"])
            if hi - lo != int(e["length"]) or lo < 0 or hi > total:
                raise SFError(f"{self.root / fmt.EPISODES_DIR}: episode {e['episode_index']} range "
                              f"[{lo}, {hi}) does not match its length {e['length']} / {total} frames")
            owner = self.columns.get("episode_index")
            if owner is not None and not np.all(owner[lo:hi] == e["episode_index"]):
                raise SFError(f"{data_dir}: rows [{lo}, {hi}) do not all belong to episode "
                              f"{e['episode_index']}")
        self._ep_pos = {int(e["episode_index"]): i for i, e in enumerate(self.episodes)}
        self._shape_checked: set[str] = set()  # visual features whose first decoded frame matched info.json

    def _shape_error(self, key: str, found: Any, where: Path) -> SFError:
        return SFError(f"{self.root / fmt.INFO_PATH}: feature {key!r} declares shape "
                       f"{list(self.features[key]['shape'])} but {where} holds {list(found)}")

    def _check_vector_shape(self, path: Path, key: str, values: np.ndarray) -> None:
        """A scalar or 1-d numeric column against its declared shape ([1] is a scalar or [N, 1])."""
        declared = [int(s) for s in self.features[key].get("shape") or [1]]
        found = list(values.shape[1:])
        if len(values) and found != declared and not (declared == [1] and found == []):
            raise self._shape_error(key, found or [1], path)

    def _check_array_schema(self, path: Path) -> None:
        """Multi-dimensional features stored as fixed-size lists: the list sizes against the declared shape
        (read from the parquet schema, no data; variable-size lists are checked when read)."""
        if not self.array_keys:
            return
        schema = pq.read_schema(path)
        for key in self.array_keys:
            typ, dims = schema.field(key).type, []
            while pa.types.is_fixed_size_list(typ):
                dims.append(typ.list_size)
                typ = typ.value_type
            if dims and not any(t(typ) for t in _LIST_TYPES) and dims != list(self.features[key]["shape"]):
                raise self._shape_error(key, dims, path)

    def _check_visual_shape(self, key: str, image: np.ndarray, where: Path) -> None:
        """The first decoded frame of a camera against its declared [H, W, C] (or [C, H, W]) shape."""
        if key in self._shape_checked:
            return
        declared = [int(s) for s in self.features[key].get("shape") or []]
        chw = len(declared) == 3 and declared[0] in (1, 3, 4) and declared[2] not in (1, 3, 4)
        hw = declared[1:] if chw else declared[:2]
        if hw != list(image.shape[:2]):
            raise self._shape_error(key, image.shape, where)
        self._shape_checked.add(key)

    def _data_file_of(self, index: int) -> tuple[Path, int]:
        """(data parquet file holding global frame `index`, its row in that file)."""
        for path, a, b in self._file_spans:
            if a <= index < b:
                return path, index - a
        return self.root / "data", index

    # ------------------------------------------------------------------ access
    @property
    def camera_keys(self) -> list[str]:
        """Feature keys of dtype image or video, in info.json order."""
        return [k for k, f in self.features.items() if fmt.is_visual(f)]

    def episode(self, episode_index: int) -> dict[str, Any]:
        """The metadata row of one episode."""
        if episode_index not in self._ep_pos:
            raise SFError(f"episode {episode_index} is not in {self.root}")
        return self.episodes[self._ep_pos[episode_index]]

    def episode_range(self, episode_index: int) -> tuple[int, int]:
        """Global frame indices [from, to) of one episode."""
        e = self.episode(episode_index)
        return int(e["dataset_from_index"]), int(e["dataset_to_index"])

    def __len__(self) -> int:
        return self.num_frames

    def frame(self, index: int) -> dict[str, Any]:
        """Every feature of global frame `index`: numeric as arrays/scalars, images uint8 [H, W, 3]."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {index} out of range [0, {self.num_frames})")
        out: dict[str, Any] = {}
        for key, col in self.columns.items():
            v = col[index]
            out[key] = v.item() if np.ndim(v) == 0 else v
        for key in self.camera_keys:
            out[key] = self._image(key, index)
        for key in self.array_keys:
            out[key] = self.array(key, index, index + 1)[0]
        if "task_index" in out:
            out["task"] = self.tasks[int(out["task_index"])]
        return out

    __getitem__ = frame

    def _image(self, key: str, index: int) -> np.ndarray:
        if key in self._image_cols:
            data = self._image_cols[key][index]
            if data is None:
                path, row = self._data_file_of(index)
                raise SFError(f"{path}: frame {index} (row {row}) has no bytes for {key}")
            try:
                image = fmt.decode_png(data)
            except ValueError as err:
                path, row = self._data_file_of(index)
                raise SFError(f"{path}: cannot decode image {key!r} of frame {index} (row {row}): "
                              f"{detail(err)} (truncated or corrupt image bytes; rewrite the dataset)"
                              ) from None
            if key not in self._shape_checked:
                self._check_visual_shape(key, image, self._data_file_of(index)[0])
            return image
        ep = self.episodes[self._episode_of(index)]
        frames, start = self._video_episode(key, int(ep["episode_index"]))
        return frames[start + index - int(ep["dataset_from_index"])]

    def _episode_of(self, index: int) -> int:
        starts = self._starts()
        return int(np.searchsorted(starts, index, side="right") - 1)

    @lru_cache(maxsize=1)
    def _starts(self) -> np.ndarray:
        return np.array([int(e["dataset_from_index"]) for e in self.episodes])

    def _video_episode(self, key: str, episode_index: int) -> tuple[np.ndarray, int]:
        """(decoded frames of the MP4 holding this episode, position of its first frame)."""
        e = self.episode(episode_index)
        chunk, file = int(e[f"videos/{key}/chunk_index"]), int(e[f"videos/{key}/file_index"])
        path = self.root / self.info.get("video_path", fmt.VIDEO_PATH).format(
            video_key=key, chunk_index=chunk, file_index=file)
        frames = self._decode(str(path))
        if len(frames):
            self._check_visual_shape(key, frames[0], path)
        start = int(round(float(e[f"videos/{key}/from_timestamp"]) * self.fps))
        if start + int(e["length"]) > len(frames):
            raise SFError(f"{path}: has {len(frames)} frames, episode {episode_index} needs "
                          f"[{start}, {start + int(e['length'])})")
        return frames, start

    @lru_cache(maxsize=2)
    def _decode(self, path: str) -> np.ndarray:
        return decode_video(path, self.fps)

    def images(self, key: str, episodes: list[int] | None = None) -> np.ndarray:
        """uint8 [n, H, W, 3] for all frames of `episodes` (default: all), in global index order."""
        if key not in self.features or not fmt.is_visual(self.features[key]):
            raise SFError(f"{self.root / fmt.INFO_PATH}: no image/video feature {key!r}; "
                          f"has {self.camera_keys}")
        chosen = [int(e["episode_index"]) for e in self.episodes] if episodes is None else list(episodes)
        parts = []
        for ep in chosen:
            lo, hi = self.episode_range(ep)
            if key in self._image_cols:
                parts.append(np.stack([self._image(key, i) for i in range(lo, hi)]))
            else:
                frames, start = self._video_episode(key, ep)
                parts.append(frames[start:start + hi - lo])
        return np.concatenate(parts) if parts else np.zeros((0, *self.features[key]["shape"]), np.uint8)


    def array(self, key: str, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """A multi-dimensional numeric feature of global frames [lo, hi) (default: all) -> [n, *shape], read
        from the data files that hold them (the last two files' columns stay cached)."""
        if key not in self.array_keys:
            raise SFError(f"{self.root / fmt.INFO_PATH}: no multi-dimensional numeric feature {key!r}; "
                          f"has {self.array_keys}")
        hi = self.num_frames if hi is None else hi
        if not 0 <= lo <= hi <= self.num_frames:
            raise IndexError(f"frames [{lo}, {hi}) out of range [0, {self.num_frames})")
        ft = self.features[key]
        parts = [self._file_array(str(path), key)[max(lo, a) - a:min(hi, b) - a]
                 for path, a, b in self._file_spans if a < hi and b > lo]
        return np.concatenate(parts) if parts else np.zeros((0, *ft["shape"]), ft["dtype"])

    @lru_cache(maxsize=2)
    def _file_array(self, path: str, key: str) -> np.ndarray:
        ft = self.features[key]
        column = _read_parquet(Path(path), [key]).column(key)
        values = _column_to_numpy(column, ft["dtype"], Path(path), key)
        if values.shape[1:] != (int(np.prod(ft["shape"])),):
            raise self._shape_error(key, [values.shape[1] if values.ndim > 1 else 1], Path(path))
        return values.reshape(-1, *ft["shape"])


_LIST_TYPES = (pa.types.is_list, pa.types.is_fixed_size_list, pa.types.is_large_list)


def _column_to_numpy(column: pa.ChunkedArray, dtype: str, path: Path | None = None,
                     key: str = "") -> np.ndarray:
    """A scalar or (fixed-size, possibly nested) list column -> ndarray [N] or [N, D], D = values per row
    (rows of unequal length are an SFError naming `path` and `key`)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    nested = False
    while any(is_list(arr.type) for is_list in _LIST_TYPES):
        arr, nested = arr.flatten(), True
    flat = arr.to_numpy(zero_copy_only=False)
    if nested and (n == 0 or flat.size % n):
        if n == 0:
            return flat.reshape(0, 0).astype(dtype, copy=False)
        raise SFError(f"{path}: column {key!r} has rows of unequal length ({flat.size} values in {n} rows)")
    return (flat.reshape(n, -1) if nested else flat).astype(dtype, copy=False)
