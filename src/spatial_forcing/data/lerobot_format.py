"""Facts about the LeRobotDataset v3 on-disk format, shared by the writer and the reader.

Layout of a dataset root::

    meta/info.json                                   codebase_version "v3.0", fps, features, totals, templates
    meta/stats.json                                  per-feature normalisation statistics
    meta/tasks.parquet                               task string (pandas index "task") -> task_index
    meta/episodes/chunk-000/file-000.parquet         one row per episode: offsets into data and video files
    data/chunk-000/file-000.parquet                  one row per frame, many episodes per file
    videos/<video_key>/chunk-000/file-000.mp4        dtype "video" features only

Feature dtypes: numpy dtype strings (shape (1,) -> scalar column, (n,) -> fixed-size list column,
(h, w, ...) -> nested fixed-size lists, one level per axis, like HF `datasets` Array2D/3D), "image" (a struct
{bytes: PNG, path: str} column in the data parquet) and "video" (frames in MP4 files, located per episode by
`videos/<key>/{chunk_index,file_index,from_timestamp,to_timestamp}` in the episodes parquet).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pyarrow as pa

try:  # OpenCV decodes PNG ~3x faster than PIL; PIL is the fallback
    import cv2 as _cv2
except ImportError:  # pragma: no cover - depends on the environment
    _cv2 = None

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # max files per chunk directory
DATA_FILE_SIZE_MB = 100  # a data parquet file is closed once it holds this much
VIDEO_FILE_SIZE_MB = 200  # same cap for MP4 files (LeRobot's default)

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"

# Index columns every frame carries; the writer fills them in.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}

# Our standard feature keys (same as the env observation keys).
STATE_KEY = "observation.state"
ACTION_KEY = "action"


def image_key(camera: str) -> str:
    """Feature key of a camera: 'agentview' -> 'observation.images.agentview'."""
    return f"observation.images.{camera}"


def is_visual(feature: dict[str, Any]) -> bool:
    """True for 'image' and 'video' features."""
    return feature["dtype"] in ("image", "video")


def image_feature(height: int, width: int, video: bool = False) -> dict[str, Any]:
    """Feature entry of an RGB camera stored as PNG ('image') or MP4 ('video')."""
    return {"dtype": "video" if video else "image", "shape": [height, width, 3],
            "names": ["height", "width", "channels"]}


def vector_feature(dim: int, names: list[str] | None = None, dtype: str = "float32") -> dict[str, Any]:
    """Feature entry of a flat numeric vector."""
    return {"dtype": dtype, "shape": [dim], "names": names}


def array_feature(shape: tuple[int, ...] | list[int], dtype: str = "float32",
                  names: list[str] | None = None) -> dict[str, Any]:
    """Feature entry of a multi-dimensional numeric array (a depth map [H, W], a camera matrix [4, 4])."""
    return {"dtype": dtype, "shape": [int(s) for s in shape], "names": names}


def is_array(feature: dict[str, Any]) -> bool:
    """True for numeric features of two or more dimensions (stored as nested lists, read on demand)."""
    return not is_visual(feature) and feature["dtype"] != "string" and len(feature["shape"]) >= 2


def chunk_file(file_number: int) -> tuple[int, int]:
    """The (chunk_index, file_index) of the n-th file written for one kind of content."""
    return file_number // CHUNKS_SIZE, file_number % CHUNKS_SIZE


def arrow_type(feature: dict[str, Any]) -> pa.DataType:
    """Arrow column type of a non-video feature, as HF `datasets` writes it."""
    if feature["dtype"] == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    if feature["dtype"] == "string":
        return pa.string()
    base = pa.from_numpy_dtype(np.dtype(feature["dtype"]))
    shape = list(feature["shape"])
    if shape == [1]:
        return base
    for size in reversed(shape):
        base = pa.list_(base, int(size))
    return base


def array_column(values: np.ndarray, feature: dict[str, Any]) -> pa.Array:
    """Arrow column of a multi-dimensional numeric feature from its rows [n, *shape] (or [n, prod(shape)]),
    built from the flat values: no per-element Python objects."""
    arr = np.ascontiguousarray(values, dtype=feature["dtype"]).reshape(-1)
    column: pa.Array = pa.array(arr, type=pa.from_numpy_dtype(np.dtype(feature["dtype"])))
    for size in reversed(feature["shape"]):
        column = pa.FixedSizeListArray.from_arrays(column, int(size))
    return column


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [H, W, 3] image (lossless, fast compression)."""
    if _cv2 is not None:
        bgr = np.ascontiguousarray(image[..., ::-1])
        ok, buf = _cv2.imencode(".png", bgr, [_cv2.IMWRITE_PNG_COMPRESSION, 1])
        if ok:
            return buf.tobytes()
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """uint8 [H, W, 3] RGB array from PNG (or any common image format) bytes; ValueError on empty, truncated
    or unrecognised bytes."""
    if not data:
        raise ValueError("empty image bytes")
    if _cv2 is not None:
        bgr = _cv2.imdecode(np.frombuffer(data, np.uint8), _cv2.IMREAD_COLOR)
        if bgr is not None:
            return np.ascontiguousarray(bgr[..., ::-1])
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except Image.UnidentifiedImageError:
        raise ValueError(f"not a recognised image format ({len(data)} bytes)") from None
    except (OSError, SyntaxError) as err:  # PIL: "image file is truncated", broken chunks
        raise ValueError(f"{err} ({len(data)} bytes)") from None


def tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet content: column task_index plus the task strings as the pandas index 'task'."""
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()),
                      "task": pa.array(tasks, pa.string())})
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


