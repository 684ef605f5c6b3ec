"""VGGT aggregator: DINOv2 patch embed, then alternating frame / global attention blocks.

Output layer i is cat(frame block i output, global block i output) on channels: [B, S, P, 2C] with
P = 1 (camera) + registers + h*w. Frame 0 gets the first copy of the camera/register tokens, every other
frame the second copy. State-dict keys equal the official checkpoint's `aggregator.*` entries.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from spatial_forcing.teachers.vggt.config import AggregatorConfig
from spatial_forcing.teachers.vggt.dinov2 import DinoV2Embed
from spatial_forcing.teachers.vggt.layers import Block
from spatial_forcing.teachers.vggt.rope import patch_positions

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _first_and_others(tokens: torch.Tensor, b: int, s: int) -> torch.Tensor:
    """(1, 2, X, C) learned tokens -> (B*S, X, C): copy 0 for frame 0, copy 1 for frames 1..S-1."""
    first = tokens[:, :1].expand(b, 1, *tokens.shape[2:])
    others = tokens[:, 1:].expand(b, s - 1, *tokens.shape[2:])
    return torch.cat([first, others], dim=1).reshape(b * s, *tokens.shape[2:])


class Aggregator(nn.Module):
    """The VGGT alternating-attention aggregator (configurable size; default VGGT-1B)."""

    def __init__(self, cfg: AggregatorConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or AggregatorConfig()
        self.cfg = cfg
        dim = cfg.embed_dim
        self.patch_embed = DinoV2Embed(cfg)

        def make_block() -> Block:
            return Block(dim, cfg.num_heads, cfg.mlp_ratio, cfg.init_values, 1e-5, True, cfg.rope_freq)

        self.frame_blocks = nn.ModuleList(make_block() for _ in range(cfg.depth))
        self.global_blocks = nn.ModuleList(make_block() for _ in range(cfg.depth))
        self.camera_token = nn.Parameter(torch.zeros(1, 2, 1, dim))
        self.register_token = nn.Parameter(torch.zeros(1, 2, cfg.num_register_tokens, dim))
        self.reset_buffers()

    def reset_buffers(self, device: torch.device | str | None = None) -> None:
        """(Re)create the non-persistent ImageNet mean/std buffers (e.g. after a meta-device load)."""
        for name, value in (("_mean", IMAGENET_MEAN), ("_std", IMAGENET_STD)):
            value = torch.tensor(value, device=device).view(1, 1, 3, 1, 1)
            self.register_buffer(name, value, persistent=False)

    def init_random(self, generator: torch.Generator | None = None) -> None:
        """DINOv2/VGGT-style random init (truncated normal 0.02 linears, tiny special tokens)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02, generator=generator)
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.patch_embed.pos_embed, std=0.02, generator=generator)
        for token in (self.patch_embed.cls_token, self.patch_embed.register_tokens, self.camera_token,
                      self.register_token):
            nn.init.normal_(token, std=1e-6, generator=generator)

    @property
    def patch_start_idx(self) -> int:
        """First patch token index in each frame's sequence."""
        return self.cfg.patch_start_idx

    def forward_layers(
        self, images: torch.Tensor, indices: Iterable[int] | None = None
    ) -> dict[int, torch.Tensor]:
        """images [B, S, 3, H, W] in [0, 1] -> {i: [B, S, P, 2C]} for the requested non-negative layer
        indices (all layers when None). Blocks after the deepest requested layer are not run and other
        layers' outputs are not kept."""
        b, s, c_in, height, width = images.shape
        if c_in != 3:
            raise ValueError(f"expected 3 input channels, got {c_in}")
        wanted = set(range(self.cfg.depth)) if indices is None else set(indices)
        if not wanted:
            return {}
        if min(wanted) < 0 or max(wanted) >= self.cfg.depth:
            raise ValueError(f"layer indices must be in 0..{self.cfg.depth - 1}, got {sorted(wanted)}")
        x = ((images - self._mean) / self._std).reshape(b * s, 3, height, width)
        patches = self.patch_embed(x)
        special = [_first_and_others(self.camera_token, b, s), _first_and_others(self.register_token, b, s)]
        tokens = torch.cat([*special, patches], dim=1)
        p, dim = tokens.shape[1], tokens.shape[2]
        pos = patch_positions(height // self.cfg.patch_size, width // self.cfg.patch_size,
                              self.patch_start_idx, device=images.device)
        frame_pos = pos.unsqueeze(0).expand(b * s, -1, -1)
        global_pos = pos.repeat(s, 1).unsqueeze(0).expand(b, -1, -1)
        outputs: dict[int, torch.Tensor] = {}
        for i in range(max(wanted) + 1):
            tokens = self.frame_blocks[i](tokens.reshape(b * s, p, dim), frame_pos)
            frame_out = tokens.reshape(b, s, p, dim)
            tokens = self.global_blocks[i](tokens.reshape(b, s * p, dim), global_pos)
            if i in wanted:
                outputs[i] = torch.cat([frame_out, tokens.reshape(b, s, p, dim)], dim=-1)
        return outputs

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], int]:
        """All layers, like the reference: ([B, S, P, 2C] * depth, patch_start_idx)."""
        outs = self.forward_layers(images)
        return [outs[i] for i in range(self.cfg.depth)], self.patch_start_idx
