"""What a teacher-feature cache depends on: dataset fingerprint, teacher identity, layer, input size, views.

`cache_key(...)` returns the dict that `manifest.json` must reproduce exactly for a cache to be used;
`key_mismatch(stored, wanted)` names the first field that differs (for one-line refusals).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import torch

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import teacher_layer

FORMAT_VERSION = 1
CACHE_SUFFIX = ".sf_cache"  # sidecar directory: <dataset><CACHE_SUFFIX>/<teacher>-L<layer>-<hash>/
PE_NOTE = ("raw teacher features without positional encoding; core.targets adds the 2D sin-cos PE at "
           "training time when align.use_pe is set, so one cache serves --pe and --no-pe runs")


def _hash_files(files: Sequence[Path], root: Path) -> str:
    """sha256 over (relative path, content) of `files`, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def dataset_fingerprint(root: str | Path) -> dict[str, Any]:
    """Content hashes of the parts of a LeRobot v3 dataset that determine its frames.

    meta/stats.json and meta/tasks.parquet are left out: they change neither images nor frame order.
    """
    root = Path(root)
    info = root / fmt.INFO_PATH
    if not info.is_file():
        raise SFError(f"missing file {info}: not a LeRobot v3 dataset root")
    parts = {
        "info.json": [info],
        "meta/episodes": list((root / fmt.EPISODES_DIR).rglob("*.parquet")),
        "data": [p for p in (root / "data").rglob("*") if p.is_file()],
        "videos": [p for p in (root / "videos").rglob("*") if p.is_file()],
    }
    return {name: _hash_files(files, root) for name, files in parts.items()}


def weights_sha256(teacher: Teacher) -> str:
    """sha256 of the teacher's state_dict (names, dtypes, shapes, bytes): the same weights give the same
    hash whether they came from the shipped file, a user file or a seeded random init."""
    state = getattr(teacher, "state_dict", None)
    if state is None:
        raise SFError(f"teacher {teacher.name!r} is not an nn.Module; cannot fingerprint its weights")
    digest = hashlib.sha256()
    for name, tensor in sorted(state().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def input_hw(reader: LeRobotDatasetReader, views: Sequence[str],
             image_size: int | tuple[int, int] | None) -> tuple[int, int]:
    """(H, W) of the images the teacher sees: `image_size` if given, else the views' stored size."""
    if image_size is not None:
        return (int(image_size), int(image_size)) if isinstance(image_size, int) else tuple(map(int, image_size))
    shapes = set()
    for cam in views:
        key = fmt.image_key(cam)
        if key not in reader.features:
            raise SFError(f"{reader.root / fmt.INFO_PATH}: no camera {key!r}; has {reader.camera_keys}")
        shape = reader.features[key]["shape"]
        shapes.add((int(shape[0]), int(shape[1])))
    if len(shapes) != 1:
        raise SFError(f"views {list(views)} have different sizes {sorted(shapes)}; pass --image-size")
    return shapes.pop()


def cache_key(reader: LeRobotDatasetReader, teacher: Teacher, layer: int, views: Sequence[str],
              image_size: int | tuple[int, int] | None, weights_hash: str | None = None) -> dict[str, Any]:
    """Every field a stored cache must match, in the order mismatches are reported."""
    teacher_layer(layer, teacher.num_layers, f"teacher {teacher.name!r} layer")
    hw = input_hw(reader, views, image_size)
    options = {k: getattr(teacher, k) for k in ("image_size", "mode") if hasattr(teacher, k)}
    if hasattr(teacher, "features_from_dataset"):  # a geometry teacher (oracle3d): reads dataset features
        teacher.check_dataset(reader, views)
        options.update(teacher.cache_options)
    return {
        "format_version": FORMAT_VERSION,
        "dataset": {**dataset_fingerprint(reader.root), "num_frames": int(reader.num_frames)},
        "teacher": teacher.name,
        "weights_sha256": weights_hash or weights_sha256(teacher),
        "teacher_options": options,
        "layer": int(layer) % teacher.num_layers,
        "views": list(views),
        "input_hw": list(hw),
        "grid": list(teacher.grid(hw)),
        "channels": int(teacher.dim),
        "dtype": "float16",
    }


def key_mismatch(stored: dict[str, Any], wanted: dict[str, Any], prefix: str = "") -> str | None:
    """'field: cache has X, wanted Y' for the first differing field (nested dicts recursed), else None."""
    for name, value in wanted.items():
        have = stored.get(name, "<absent>")
        if isinstance(value, dict) and isinstance(have, dict):
            inner = key_mismatch(have, value, f"{prefix}{name}.")
            if inner:
                return inner
        elif have != value:
            return f"{prefix}{name}: cache has {_short(have)}, wanted {_short(value)}"
    return None


def key_hash(key: dict[str, Any]) -> str:
    """8 hex digits naming a cache directory: teacher weights/options, layer, views and size (not the
    dataset fingerprint, so an edited dataset finds its old cache and is refused as stale)."""
    fields = {k: v for k, v in key.items() if k != "dataset"}
    return hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()[:8]


def default_cache_dir(root: str | Path, key: dict[str, Any]) -> Path:
    """<dataset>.sf_cache/<teacher>-L<layer>-<hash>/ beside (never inside) the dataset directory."""
    root = Path(root).resolve()
    return root.parent / f"{root.name}{CACHE_SUFFIX}" / f"{key['teacher']}-L{key['layer']}-{key_hash(key)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 20 or not isinstance(value, str) else text[:13] + "...'"
