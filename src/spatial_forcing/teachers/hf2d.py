"""2D feature teachers through transformers: DINOv2 (with or without registers) and the SigLIP vision tower,
loaded from a local Hugging Face checkpoint directory (no hub access)."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spatial_forcing.teachers.base import RANDOM, no_default_weights, seeded_init, size_options_need_random
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import teacher_layer

log = logging.getLogger(__name__)

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


class HF2DTeacher(nn.Module):
    """Frozen HF ViT teacher. Layer i is the output of encoder layer i (hidden_states[i + 1]); with
    `final_norm` the model's final LayerNorm is applied to every returned layer (DINOv2's
    get_intermediate_layers convention). CLS / register tokens are dropped. `valid` is ignored."""

    def __init__(self, name: str, model: nn.Module, final_norm_module: nn.Module, num_prefix: int,
                 mean: Sequence[float], std: Sequence[float], final_norm: bool = True) -> None:
        super().__init__()
        cfg = model.config
        self.name = name
        self.model = model.requires_grad_(False)
        self.norm = final_norm_module
        self.final_norm = final_norm
        self.num_prefix = num_prefix
        self.dim = int(cfg.hidden_size)
        self.num_layers = int(cfg.num_hidden_layers)
        self.image_size = int(cfg.image_size)
        self.patch_size = int(cfg.patch_size)
        for key, value in (("mean", mean), ("std", std)):
            value = torch.tensor(value, dtype=torch.float32).view(1, 3, 1, 1)
            self.register_buffer(key, value, persistent=False)
        super().train(False)

    def train(self, mode: bool = True) -> "HF2DTeacher":
        """Frozen: stays in eval mode."""
        return super().train(False)

    def grid(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """Images are resized to image_size x image_size, so the grid is fixed."""
        side = self.image_size // self.patch_size
        return side, side

    def forward_intermediates(self, images: torch.Tensor, indices: Sequence[int],
                              valid: torch.Tensor | None = None) -> list[torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1] -> one float32 [B, V, h, w, dim] per requested layer."""
        if images.ndim != 5 or images.shape[2] != 3:
            raise SFError(f"{self.name} teacher: expected images [B, V, 3, H, W], got {tuple(images.shape)}")
        indices = [teacher_layer(i, self.num_layers, f"{self.name} layer") for i in indices]
        b, v, _, height, width = images.shape
        device = self.mean.device
        x = images.reshape(b * v, 3, height, width).float().to(device)
        if (height, width) != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic", antialias=True)
        x = (x - self.mean) / self.std
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                    else contextlib.nullcontext())
        with torch.no_grad(), autocast:
            hidden = self.model(pixel_values=x, output_hidden_states=True).hidden_states
            outs = []
            for i in indices:
                feat = hidden[i + 1]
                if self.final_norm:
                    feat = self.norm(feat)
                outs.append(feat[:, self.num_prefix:])
        h, w = self.grid((height, width))
        return [o.float().reshape(b, v, h, w, self.dim) for o in outs]


def _read_config(path: Path, expected: dict[str, str]) -> dict:
    """config.json of a local checkpoint dir, checked against the expected model types."""
    if not path.is_dir():
        raise SFError(f"teacher weights {path}: no such directory (expected a Hugging Face checkpoint dir)")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise SFError(f"teacher weights {path}: no config.json, not a Hugging Face checkpoint directory")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as err:
        raise SFError(f"teacher weights {cfg_file}: invalid JSON ({err})") from err
    if cfg.get("model_type") not in expected:
        raise SFError(f"teacher weights {path}: model_type {cfg.get('model_type')!r}, "
                      f"expected one of {sorted(expected)}")
    return cfg


def _mean_std(path: Path, default: tuple) -> tuple:
    """image_mean / image_std from preprocessor_config.json when present, else `default`."""
    pre = path / "preprocessor_config.json"
    if pre.is_file():
        data = json.loads(pre.read_text())
        if "image_mean" in data and "image_std" in data:
            return tuple(data["image_mean"]), tuple(data["image_std"])
    return default


def _load(cls_name: str, path: Path) -> nn.Module:
    import transformers

    try:
        model, info = getattr(transformers, cls_name).from_pretrained(
            str(path), local_files_only=True, dtype=torch.float32, output_loading_info=True)
    except (OSError, ValueError) as err:
        raise SFError(f"teacher weights {path}: cannot load as {cls_name} ({err})") from err
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise SFError(f"teacher weights {path}: {len(missing)} weights missing for {cls_name}: {missing[:5]}")
    return model.eval()


def _random(name: str, cls_name: str, seed: int | None, options: dict[str, Any]) -> nn.Module:
    """weights='random': a `cls_name` model of the HF config with `options` (e.g. hidden_size), seeded."""
    import transformers

    config_cls = getattr(transformers, cls_name.replace("Model", "Config"))
    try:
        config = config_cls(**options)
    except (TypeError, ValueError) as err:
        raise SFError(f"{name} teacher: options {sorted(options)}: {err}") from None
    with seeded_init(seed):
        return getattr(transformers, cls_name)(config).eval()


def build_dinov2(
    weights: str | Path | None = None, final_norm: bool = True, device: str | torch.device = "cpu",
    seed: int | None = None, **options: Any,
) -> HF2DTeacher:
    """DINOv2 teacher (Dinov2Model or Dinov2WithRegistersModel) from a local checkpoint directory, or
    weights='random' with Dinov2Config `options` (`weights` as in teachers.registry)."""
    if weights is None:
        raise no_default_weights("dinov2", "a local Hugging Face checkpoint directory")
    size_options_need_random("dinov2", weights, options)
    if weights == RANDOM:
        model, mean, std = _random("dinov2", "Dinov2Model", seed, options), *IMAGENET
    else:
        path = Path(weights)
        classes = {"dinov2": "Dinov2Model", "dinov2_with_registers": "Dinov2WithRegistersModel"}
        cfg = _read_config(path, classes)
        model = _load(classes[cfg["model_type"]], path)
        mean, std = _mean_std(path, IMAGENET)
    num_prefix = 1 + int(getattr(model.config, "num_register_tokens", 0) or 0)
    log.info("dinov2 teacher from %s: %d layers, dim %d", weights, model.config.num_hidden_layers,
             model.config.hidden_size)
    return HF2DTeacher("dinov2", model, model.layernorm, num_prefix, mean, std, final_norm).to(device)


def build_siglip(
    weights: str | Path | None = None, final_norm: bool = True, device: str | torch.device = "cpu",
    seed: int | None = None, **options: Any,
) -> HF2DTeacher:
    """SigLIP vision-tower teacher (SiglipVisionModel; a full SigLIP checkpoint's vision part also loads),
    or weights='random' with SiglipVisionConfig `options` (`weights` as in teachers.registry)."""
    if weights is None:
        raise no_default_weights("siglip", "a local Hugging Face checkpoint directory")
    size_options_need_random("siglip", weights, options)
    if weights == RANDOM:
        model, mean, std = _random("siglip", "SiglipVisionModel", seed, options), *HALF
    else:
        path = Path(weights)
        _read_config(path, {"siglip_vision_model": "", "siglip": ""})
        model = _load("SiglipVisionModel", path)
        mean, std = _mean_std(path, HALF)
    norm = getattr(model, "vision_model", model).post_layernorm  # transformers < 5 nests the tower
    log.info("siglip teacher from %s: %d layers, dim %d", weights, model.config.num_hidden_layers,
             model.config.hidden_size)
    return HF2DTeacher("siglip", model, norm, 0, mean, std, final_norm).to(device)
