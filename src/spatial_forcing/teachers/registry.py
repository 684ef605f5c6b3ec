"""Teacher registry: name -> factory, imported lazily so optional teachers cost nothing.

Every factory takes `weights` with one meaning (`sf train --teacher-weights`, `sf teacher cache --weights`):

    None      the teacher's default: its shipped weights (mini3d, mini2d), or nothing to load (oracle3d,
              computed from simulator geometry). A teacher that ships none (vggt, dinov2, siglip) refuses
              in one line naming what to pass.
    "random"  a random init, for tests and timing: from a generator seeded by the option `seed` when given,
              else from torch's global RNG (a seeded run then reproduces it). Size options shape it (mini:
              MiniConfig fields; dinov2 / siglip: Hugging Face config fields; vggt: `config`).
    PATH      a local weights file (mini: .safetensors with its .json; vggt: model.pt / .safetensors) or
              checkpoint directory (dinov2, siglip); a missing one is a one-line error naming it. Size
              options are refused: the weights carry their shape (vggt's `config` must match them).

The built teacher is frozen (eval mode, no gradients) and deterministic; tests/teachers/test_contract.py
holds every entry to this.
"""

from __future__ import annotations

from typing import Any

from spatial_forcing.teachers.base import Teacher
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.loader import load_object

# name -> "module:function" (utils.loader). Each factory takes `weights`, `seed` and keyword options of its own
# and returns a Teacher.
TEACHERS: dict[str, str] = {
    "mini3d": "spatial_forcing.teachers.mini3d:build",
    "mini2d": "spatial_forcing.teachers.mini2d:build",
    "vggt": "spatial_forcing.teachers.vggt.teacher:build",
    "dinov2": "spatial_forcing.teachers.hf2d:build_dinov2",
    "siglip": "spatial_forcing.teachers.hf2d:build_siglip",
    "oracle3d": "spatial_forcing.teachers.oracle3d:build",  # ground truth from --record-geometry datasets
}


def build_teacher(name: str, **kwargs: Any) -> Teacher:
    """Build the teacher registered under `name` (frozen, eval mode)."""
    if name not in TEACHERS:
        raise SFError(f"unknown teacher {name!r}; expected one of {sorted(TEACHERS)}")
    return load_object(TEACHERS[name], f"teacher {name!r}")(**kwargs)
