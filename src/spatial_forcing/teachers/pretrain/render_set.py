"""`RenderSet`: the two-view RGB-D samples every pretraining source produces, and their npz file.

A module of its own so the sources (`renders`, `synthetic`) and the loop can share the type without
importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from spatial_forcing.utils.atomic import atomic_path
from spatial_forcing.utils.errors import SFError

CAMERAS = ("agentview", "wrist")  # view order of every RenderSet


@dataclass
class RenderSet:
    """N two-view samples. Views follow CAMERAS; cameras use the OpenCV convention."""

    images: np.ndarray  # uint8 [N, V, H, W, 3]
    depth: np.ndarray  # float32 [N, V, H, W] metric z-depth (m)
    intrinsics: np.ndarray  # float32 [N, V, 3, 3] in pixels
    extrinsics: np.ndarray  # float32 [N, V, 4, 4] world-to-camera

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, idx: np.ndarray | slice) -> "RenderSet":
        """The samples at `idx`."""
        return RenderSet(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def save(self, path: str | Path) -> None:
        """Compressed npz (depth stored as float16), written atomically."""
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        arrays["depth"] = arrays["depth"].astype(np.float16)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "RenderSet":
        """Read a cache written by `save`."""
        try:
            with np.load(path) as z:
                return cls(images=z["images"], depth=z["depth"].astype(np.float32),
                           intrinsics=z["intrinsics"], extrinsics=z["extrinsics"])
        except (OSError, KeyError, ValueError) as err:
            raise SFError(f"render cache {path}: unreadable ({err}); delete it to re-render") from err
