"""Atomic file writes: write to a temporary file in the same directory, fsync, then rename."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from spatial_forcing.utils.errors import SFError


def check_file_target(path: str | os.PathLike, option: str = "--out") -> None:
    """SFError unless `path` is, or can be created as, a writable file (checked before any work is done):
    not a directory, no file among its parents, a writable nearest existing parent."""
    path = Path(path)
    if path.is_dir():
        raise SFError(f"{option} {path} is a directory, expected a file path")
    existing = next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir():
        raise SFError(f"{option} {path}: {existing} is a file, expected a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SFError(f"{option} {path}: {existing} is not writable")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces `path` atomically, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the final file the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, obj: Any, allow_nan: bool = True) -> None:
    """Write `obj` as indented JSON, atomically. `allow_nan=False` refuses NaN/Inf (ValueError), which
    Python writes and reads but strict JSON readers reject."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=allow_nan) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write raw bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_dir(final: str | os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Create directory `final` atomically: `fill(tmp)` writes the files into a temporary sibling directory,
    which is fsynced and renamed over `final` (an existing `final` is replaced only once `fill` succeeded)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        fill(tmp)
        for f in tmp.iterdir():
            if not f.is_file():  # a subdirectory's files are not fsynced one by one
                continue
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> None:
    """Lay out a matplotlib figure, write it as PNG atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
