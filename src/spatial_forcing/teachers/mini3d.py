"""mini3d: a small VGGT-shaped multi-view teacher pretrained here on tabletop renders (depth, points, pose).

Also holds what both mini teachers share: the frozen `MiniTeacher` wrapper (the Teacher protocol) and
safetensors + JSON weight files.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from spatial_forcing.teachers.blocks import AlternatingBackbone, MiniConfig, UnpatchifyHead
from spatial_forcing.utils.atomic import atomic_path, write_json
from spatial_forcing.utils.errors import SFError


class Mini3D(nn.Module):
    """Backbone with cross-view attention plus pretraining heads: depth (+log-conf), points in the first
    camera's frame (+log-conf), and each view's pose in the first camera's frame (translation + 6D
    rotation)."""

    kind = "mini3d"

    def __init__(self, cfg: MiniConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = AlternatingBackbone(cfg, cross_view=True)
        self.head_layers = sorted({cfg.depth // 2 - 1, cfg.depth - 1} - {-1})  # DPT-lite: mid + last layer
        in_dim = 2 * cfg.dim * len(self.head_layers)
        self.depth_head = UnpatchifyHead(in_dim, 2, cfg.patch, cfg.head_hidden)
        self.point_head = UnpatchifyHead(in_dim, 4, cfg.patch, cfg.head_hidden)
        self.pose_head = nn.Sequential(
            nn.LayerNorm(2 * cfg.dim), nn.Linear(2 * cfg.dim, cfg.head_hidden), nn.GELU(),
            nn.Linear(cfg.head_hidden, 9),
        )

    @torch.no_grad()
    def init_output_bias(self, mean_depth: float, mean_point: Sequence[float]) -> None:
        """Start the depth and point heads at the training set's mean depth / mean point (metres)."""
        pp = self.cfg.patch ** 2
        self.depth_head.net[-1].bias[:pp] = mean_depth
        for c in range(3):
            self.point_head.net[-1].bias[c * pp:(c + 1) * pp] = float(mean_point[c])

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1] -> depth/depth_logconf [B,V,H,W], points [B,V,H,W,3],
        points_logconf [B,V,H,W], pose [B,V,9] (translation 3, rotation 6D = first two matrix columns)."""
        b, v, _, hh, ww = images.shape
        p = self.cfg.patch
        h, w = hh // p, ww // p
        patches = self.backbone.patch_embed(images.flatten(0, 1))
        outs = self.backbone(patches, b, v, h, w, keep=set(self.head_layers))
        s = self.backbone.num_special
        feats = torch.cat([outs[i][:, :, s:] for i in self.head_layers], dim=-1).flatten(0, 1)
        depth = self.depth_head(feats, h, w).view(b, v, 2, hh, ww)
        points = self.point_head(feats, h, w).view(b, v, 4, hh, ww)
        pose = self.pose_head(outs[self.cfg.depth - 1][:, :, 0])
        return {
            "depth": depth[:, :, 0], "depth_logconf": depth[:, :, 1],
            "points": points[:, :, :3].permute(0, 1, 3, 4, 2), "points_logconf": points[:, :, 3],
            "pose": pose,
        }


class MiniTeacher(nn.Module):
    """Frozen Teacher-protocol wrapper around a mini model's backbone. Inputs of any size are resized to
    the model's native scale (longer side = cfg.image_size, sides rounded to the patch), so a 64 px-trained
    teacher gives an 8 x 8 grid for 64 px and 128 px students alike. `valid` is accepted and ignored."""

    def __init__(self, model: nn.Module, name: str) -> None:
        super().__init__()
        self.model, self.name = model.eval().requires_grad_(False), name
        self.cfg: MiniConfig = model.cfg
        self.dim = 2 * self.cfg.dim
        self.num_layers = self.cfg.depth

    def train(self, mode: bool = True) -> "MiniTeacher":
        """Teachers stay in eval mode."""
        return super().train(False)

    def _input_hw(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        scale = self.cfg.image_size / max(image_hw)
        p = self.cfg.patch
        return tuple(max(p, round(s * scale / p) * p) for s in image_hw)  # type: ignore[return-value]

    def grid(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the feature grid for inputs of size image_hw."""
        hh, ww = self._input_hw(image_hw)
        return hh // self.cfg.patch, ww // self.cfg.patch

    @torch.no_grad()
    def forward_intermediates(self, images: torch.Tensor, indices: Sequence[int],
                              valid: torch.Tensor | None = None) -> list[torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1] -> one [B, V, h, w, 2*dim] tensor per index (pair i = layer i)."""
        if images.dim() != 5 or images.shape[2] != 3:
            raise SFError(f"{self.name}: images must be [B, V, 3, H, W], got {tuple(images.shape)}")
        layers = []
        for i in indices:
            if not -self.num_layers <= i < self.num_layers:
                raise SFError(f"{self.name}: layer index {i} out of range for {self.num_layers} layers")
            layers.append(i % self.num_layers)
        b, v = images.shape[:2]
        x = images.flatten(0, 1).float()
        hh, ww = self._input_hw(tuple(x.shape[-2:]))
        if (hh, ww) != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=(hh, ww), mode="bilinear", align_corners=False, antialias=True)
        h, w = hh // self.cfg.patch, ww // self.cfg.patch
        outs = self.model.backbone(self.model.backbone.patch_embed(x), b, v, h, w, keep=set(layers))
        s = self.model.backbone.num_special
        return [outs[i][:, :, s:].reshape(b, v, h, w, self.dim) for i in layers]


def save_weights(model: nn.Module, path: str | Path, extra: dict[str, Any] | None = None,
                 half: bool = False) -> None:
    """Write `path` (.safetensors, optionally fp16) and its sidecar `path.with_suffix('.json')`
    ({"kind", "config", **extra}), both atomically."""
    path = Path(path)
    tensors = {k: (t.half() if half and t.is_floating_point() else t).contiguous()
               for k, t in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    write_json(path.with_suffix(".json"), {"kind": model.kind, "config": dataclasses.asdict(model.cfg),
                                           **(extra or {})})


def load_model(path: str | Path, kind: str) -> nn.Module:
    """Rebuild a `kind` model ("mini3d" / "mini2d") from a .safetensors file and its JSON sidecar."""
    from spatial_forcing.teachers.mini2d import Mini2D

    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise SFError(f"{kind} weights: expected {path} and {meta_path} (run `sf teacher pretrain`)")
    meta = json.loads(meta_path.read_text())
    if meta.get("kind") != kind:
        raise SFError(f"{path}: holds a {meta.get('kind')!r} model, expected {kind!r}")
    model = {"mini3d": Mini3D, "mini2d": Mini2D}[kind](MiniConfig(**meta["config"]))
    state = {k: t.float() for k, t in load_file(str(path)).items()}
    model.load_state_dict(state, strict=True)
    return model


def shipped_weights(kind: str) -> Path:
    """Path of the weights shipped in spatial_forcing/assets/ for `kind`."""
    return Path(str(importlib.resources.files("spatial_forcing") / "assets" / f"{kind}.safetensors"))


def build_mini(kind: str, weights: str | Path | None = None, **cfg_overrides: Any) -> MiniTeacher:
    """Shared factory: shipped weights (None), a file path, or "random" init with MiniConfig overrides."""
    from spatial_forcing.teachers.mini2d import Mini2D

    if weights == "random":
        model = {"mini3d": Mini3D, "mini2d": Mini2D}[kind](MiniConfig(**cfg_overrides))
    else:
        if cfg_overrides:
            raise SFError(f"{kind}: config options {sorted(cfg_overrides)} only apply with weights='random'")
        model = load_model(shipped_weights(kind) if weights is None else weights, kind)
    return MiniTeacher(model, kind)


def build(weights: str | Path | None = None, **kw: Any) -> MiniTeacher:
    """The mini3d teacher (registry factory)."""
    return build_mini("mini3d", weights, **kw)
