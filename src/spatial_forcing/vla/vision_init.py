"""Initialising a policy's ViT from a `vit2d` weight file (masked-image pretrained, see vla.vision_pretrain).

A vit2d file is `<name>.safetensors` (the MaskedViT state dict: `vit.*` is the ViTEncoder, the rest is the
pretraining mask token and head) beside a JSON sidecar `<name>.json` {"kind": "vit2d", "config": {the ViT
shape, named as the SmallVLAConfig fields, ...}, "metrics": ...}. Shipped files live in
spatial_forcing/assets/ under `shipped_name(shape)`.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

KIND = "vit2d"  # the "kind" of a vit2d sidecar (and `sf teacher pretrain --teacher vit2d`)
SHIPPED = "shipped"  # vision_init value meaning "the file in assets/ for this ViT shape"
# The SmallVLAConfig fields that fix the ViT's parameters (dropout and init_std do not).
SHAPE_FIELDS = ("image_size", "patch_size", "views", "vit_dim", "vit_depth", "vit_heads", "vit_mlp_ratio",
                "vit_stem", "vit_pos_embed")
SHAPE_DEFAULTS = {"vit_stem": "patch", "vit_pos_embed": "learned"}  # what a sidecar written before the field existed means


def vit_shape(config: Any) -> dict[str, Any]:
    """{field: value} of SHAPE_FIELDS, from a SmallVLAConfig or anything with the same field names."""
    return {name: getattr(config, name) for name in SHAPE_FIELDS}


def describe(shape: dict[str, Any]) -> str:
    """One-line form of a shape, e.g. 'image_size=64 patch_size=8 views=2 vit_dim=128 ...'."""
    return " ".join(f"{name}={shape.get(name)}" for name in SHAPE_FIELDS)


def shipped_name(shape: dict[str, Any]) -> str:
    """File stem of the shipped weights for `shape`, e.g. vit2d_64px_p8_d128x2 (heads, MLP ratio and views
    are checked against the sidecar)."""
    # non-default stem / position embedding name themselves; the defaults keep the original file names
    suffix = "".join(f"_{shape[k]}" for k, default in SHAPE_DEFAULTS.items() if shape.get(k, default) != default)
    return (f"{KIND}_{shape['image_size']}px_p{shape['patch_size']}{suffix}"
            f"_d{shape['vit_dim']}x{shape['vit_depth']}")


def assets_dir() -> Path:
    """spatial_forcing/assets/ of the installed package."""
    return Path(str(importlib.resources.files("spatial_forcing") / "assets"))


def resolve(spec: str, shape: dict[str, Any]) -> Path:
    """The weight file named by a vision_init value: "shipped" or a path."""
    return assets_dir() / f"{shipped_name(shape)}.safetensors" if spec == SHIPPED else Path(spec)


def load_vision_init(vit: nn.Module, spec: str, shape: dict[str, Any]) -> Path:
    """Copy the `vit.*` tensors of the vit2d file named by `spec` into `vit` (strictly); returns its path.
    A missing file, another kind of file or another ViT shape is a one-line SFError."""
    path = resolve(spec, shape)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        what = f"no shipped vit2d weights for this ViT shape ({describe(shape)})" if spec == SHIPPED else \
            "file not found"
        raise SFError(f"vision_init: expected {path} and its sidecar {meta_path.name}: {what} "
                      f"(make one with `sf teacher pretrain --teacher vit2d`)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise SFError(f"vision_init: {meta_path}: invalid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        kind = meta.get("kind") if isinstance(meta, dict) else None
        raise SFError(f"vision_init: {path} holds a {kind!r} model, expected a {KIND!r} ViT")
    saved = {name: (meta.get("config") or {}).get(name, SHAPE_DEFAULTS.get(name)) for name in SHAPE_FIELDS}
    if saved != shape:
        raise SFError(f"vision_init: {path} is a ViT with {describe(saved)}, but the policy's ViT has "
                      f"{describe(shape)}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise SFError(f"vision_init: {path}: unreadable safetensors file ({err})") from None
    state = {name[len("vit."):]: t.float() for name, t in tensors.items() if name.startswith("vit.")}
    try:
        vit.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise SFError(f"vision_init: {path}: {' '.join(str(err).split())[:300]}") from None
    log.info("initialised the ViT from %s", path)
    return path
