"""The frozen VGGT teacher: multi-view images -> per-layer [B, V, h, w, C] aggregator features."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from spatial_forcing.teachers.base import RANDOM, no_default_weights, seeded_init
from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.teachers.vggt.config import AggregatorConfig, get_config
from spatial_forcing.teachers.vggt.loading import load_aggregator_weights
from spatial_forcing.teachers.vggt.preprocess import letterbox, patch_mask
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import teacher_layer

log = logging.getLogger(__name__)

MODES = ("concat", "frame", "global")


class VGGTTeacher(nn.Module):
    """VGGT aggregator teacher. Always eval mode, always no_grad; fp32 weights, bf16 autocast on CUDA only.

    Layer i is frame block i's output concatenated with global block i's output (2C channels, "concat"),
    or just one of the two halves ("frame" / "global"). Camera and register tokens are dropped.
    """

    name = "vggt"

    def __init__(self, aggregator: Aggregator, image_size: int = 518, mode: str = "concat") -> None:
        super().__init__()
        cfg = aggregator.cfg
        if image_size <= 0 or image_size % cfg.patch_size:
            raise SFError(f"vggt image_size {image_size}: expected a positive multiple of {cfg.patch_size}")
        if mode not in MODES:
            raise SFError(f"vggt mode {mode!r}: expected one of {MODES}")
        self.aggregator = aggregator.requires_grad_(False)
        self.image_size = image_size
        self.mode = mode
        self.dim = cfg.embed_dim * (2 if mode == "concat" else 1)
        self.num_layers = cfg.depth
        super().train(False)

    def train(self, mode: bool = True) -> "VGGTTeacher":
        """Frozen: stays in eval mode whatever is asked."""
        return super().train(False)

    def grid(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """Every input is letterboxed to image_size x image_size, so the grid is fixed."""
        side = self.image_size // self.aggregator.cfg.patch_size
        return side, side

    def preprocess(
        self, images: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, V, 3, H, W] in [0, 1] (+ optional [B, V, H, W] mask) -> ([B, V, 3, S, S], [B, V, S, S])."""
        if images.ndim != 5 or images.shape[2] != 3:
            raise SFError(f"vggt teacher: expected images [B, V, 3, H, W], got {tuple(images.shape)}")
        b, v, _, height, width = images.shape
        flat_valid = None
        if valid is not None:
            if tuple(valid.shape) != (b, v, height, width):
                raise SFError(f"vggt teacher: valid mask {tuple(valid.shape)} != {(b, v, height, width)}")
            flat_valid = valid.reshape(b * v, height, width).bool()
        x, mask = letterbox(images.reshape(b * v, 3, height, width).float(), self.image_size, flat_valid)
        return x.reshape(b, v, 3, self.image_size, self.image_size), mask.reshape(b, v, *mask.shape[-2:])

    def feature_valid(self, images: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """[B, V, h, w] bool: feature cells whose centre pixel is a real (not letterbox/invalid) pixel."""
        _, mask = self.preprocess(images, valid)
        return patch_mask(mask, self.aggregator.cfg.patch_size)

    def _normalise_indices(self, indices: Sequence[int]) -> list[int]:
        return [teacher_layer(i, self.num_layers, "vggt layer") for i in indices]

    def forward_intermediates(
        self, images: torch.Tensor, indices: Sequence[int], valid: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1] -> one float32 [B, V, h, w, dim] per requested layer."""
        layers = self._normalise_indices(indices)
        x, _ = self.preprocess(images, valid)
        b, v = x.shape[:2]
        h, w = self.grid(tuple(images.shape[-2:]))
        device = next(self.aggregator.parameters()).device
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                    else contextlib.nullcontext())
        with torch.no_grad(), autocast:
            outs = self.aggregator.forward_layers(x.to(device), set(layers))
        c, start = self.aggregator.cfg.embed_dim, self.aggregator.patch_start_idx
        channels = {"concat": slice(None), "frame": slice(0, c), "global": slice(c, 2 * c)}[self.mode]
        feats = [outs[i][:, :, start:, channels].float().contiguous() for i in layers]
        return [f.reshape(b, v, h, w, self.dim) for f in feats]

    def forward(self, images: torch.Tensor, indices: Sequence[int] = (-1,)) -> list[torch.Tensor]:
        """Alias of forward_intermediates (default: last layer)."""
        return self.forward_intermediates(images, indices)


def build(
    weights: str | Path | None = None,
    image_size: int = 518,
    config: str | AggregatorConfig | dict[str, Any] = "vggt-1b",
    mode: str = "concat",
    device: str | torch.device = "cpu",
    seed: int | None = None,
) -> VGGTTeacher:
    """Build the VGGT teacher (`weights` as in teachers.registry): a local VGGT-1B `model.pt` /
    `.safetensors` (heads dropped), or "random" (seeded by `seed`; a random 909M-parameter model is only
    useful for timing, config='tiny' is a small one). `config` is the architecture in both cases."""
    cfg = get_config(config)
    if weights is None:
        raise no_default_weights("vggt", "the VGGT-1B model.pt (config='tiny': a small model for tests)")
    if weights == RANDOM:
        with seeded_init(seed):  # the constructor draws too (norms, convs), not only init_random
            model = Aggregator(cfg)
            model.init_random()
        log.info("vggt teacher: random init (seed %s), %.1fM params", seed,
                 sum(p.numel() for p in model.parameters()) / 1e6)
    else:
        with torch.device("meta"):
            model = Aggregator(cfg)
        load_aggregator_weights(model, weights)
    return VGGTTeacher(model.to(device), image_size=image_size, mode=mode)
