"""Teacher registry: name -> factory, imported lazily so optional teachers cost nothing."""

from __future__ import annotations

from typing import Any

from spatial_forcing.teachers.base import Teacher
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.loader import load_object

# name -> "module:function". Each factory takes keyword options (e.g. weights=path) and returns a Teacher.
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
