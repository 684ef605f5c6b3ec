"""What mini3d and mini2d share: the frozen `MiniTeacher` wrapper (the Teacher protocol), their
safetensors + JSON weight files, the shipped weights and the factory behind both registry entries.

Functions take the model class (`Mini3D` / `Mini2D`, each with a `kind`) rather than a kind name, so this
module needs neither model module and both can import it.
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

from spatial_forcing.teachers.base import RANDOM, seeded_init, size_options_need_random
from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.utils.atomic import atomic_path, write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import teacher_layer


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
        layers = [teacher_layer(i, self.num_layers, f"{self.name} layer") for i in indices]
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


def load_model(path: str | Path, cls: type[nn.Module]) -> nn.Module:
    """Rebuild a `cls` model (Mini3D / Mini2D) from a .safetensors file and its JSON sidecar."""
    kind = cls.kind
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise SFError(f"{kind} weights: expected {path} and {meta_path} (run `sf teacher pretrain`)")
    meta = json.loads(meta_path.read_text())
    if meta.get("kind") != kind:
        raise SFError(f"{path}: holds a {meta.get('kind')!r} model, expected {kind!r}")
    model = cls(MiniConfig(**meta["config"]))
    state = {k: t.float() for k, t in load_file(str(path)).items()}
    model.load_state_dict(state, strict=True)
    return model


def shipped_weights(kind: str) -> Path:
    """Path of the weights shipped in spatial_forcing/assets/ for `kind`."""
    return Path(str(importlib.resources.files("spatial_forcing") / "assets" / f"{kind}.safetensors"))


def build_mini(cls: type[nn.Module], weights: str | Path | None = None, seed: int | None = None,
               **cfg_overrides: Any) -> MiniTeacher:
    """Shared factory (`weights` as in teachers.registry): the shipped weights (None), a .safetensors file,
    or "random" init (seeded by `seed`) shaped by MiniConfig overrides."""
    kind = cls.kind
    size_options_need_random(kind, weights, cfg_overrides)
    if weights == RANDOM:
        with seeded_init(seed):
            model = cls(MiniConfig(**cfg_overrides))
    else:
        model = load_model(shipped_weights(kind) if weights is None else weights, cls)
    return MiniTeacher(model, kind)
