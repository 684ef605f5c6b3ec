"""Masked-image (SimMIM-style) pretraining of the student's own `ViTEncoder`, with no 3D labels.

Per view, a random subset of patch embeddings is replaced by a learned mask token before the positional
embedding; the unchanged encoder runs on the result, and a linear head reconstructs the masked patches'
per-patch-normalised pixels (MAE's norm_pix_loss) from its output tokens. The loop is teachers.pretrain
(kind "vit2d"); vla.vision_init loads the trained encoder (the `vit.*` tensors) into a policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.blocks import init_weights
from spatial_forcing.vla.vision_init import KIND, vit_shape
from spatial_forcing.vla.vit import ViTEncoder


@dataclass
class ViT2DConfig:
    """A student ViT shape (named as the SmallVLAConfig fields) plus the masking ratio of its pretraining."""

    image_size: int = 64  # square input side in pixels
    patch_size: int = 8  # patch side; must divide image_size
    views: int = 2  # camera views (agentview, wrist); each is masked and encoded on its own
    vit_dim: int = 128  # ViT width
    vit_depth: int = 2  # ViT transformer blocks
    vit_heads: int = 2  # ViT attention heads; must divide vit_dim
    vit_mlp_ratio: float = 4.0  # ViT MLP hidden = ratio * vit_dim
    vit_stem: str = "patch"  # "patch" or "conv" (vla.config.STEMS); a conv stem's receptive field crosses patches
    vit_pos_embed: str = "learned"  # "learned" or "sincos" (vla.config.POS_EMBEDS)
    mask_ratio: float = 0.6  # fraction of each view's patches replaced by the mask token

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise SFError(f"vit2d config: patch_size={self.patch_size} must divide "
                          f"image_size={self.image_size}")
        if self.vit_dim % self.vit_heads:
            raise SFError(f"vit2d config: vit_heads={self.vit_heads} must divide vit_dim={self.vit_dim}")
        if not 0.0 < self.mask_ratio < 1.0:
            raise SFError(f"vit2d config: mask_ratio={self.mask_ratio}, expected a value in (0, 1)")

    @classmethod
    def from_vla(cls, config: Any, **overrides: Any) -> "ViT2DConfig":
        """The ViT shape of a SmallVLAConfig (other fields are ignored), with pretraining overrides."""
        return cls(**{**vit_shape(config), **overrides})


def patch_targets(images: torch.Tensor, patch: int) -> torch.Tensor:
    """images [B, V, 3, S, S] in [0, 1] -> per-patch-normalised pixels [B*V, h*w, 3*patch*patch]
    (channel-major within a patch, patches row-major like the ViT's tokens)."""
    target = F.unfold(images.flatten(0, 1), kernel_size=patch, stride=patch).transpose(1, 2)
    return (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked patches only; pred/target [N, h*w, K], mask [N, h*w] bool."""
    err = (pred - target).pow(2).mean(-1)
    weight = mask.to(err.dtype)
    return (err * weight).sum() / weight.sum().clamp(min=1)


class MaskedViT(nn.Module):
    """A `ViTEncoder` (attribute `vit`: its keys match SmallVLA's `vit.*`), a mask token and a pixel head."""

    kind = KIND

    def __init__(self, cfg: ViT2DConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vit = ViTEncoder(cfg.image_size, cfg.patch_size, cfg.views, cfg.vit_dim, cfg.vit_depth,
                              cfg.vit_heads, cfg.vit_mlp_ratio, stem=cfg.vit_stem,
                              pos_embed=cfg.vit_pos_embed)
        self.mask_token = nn.Parameter(torch.zeros(cfg.vit_dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.head = nn.Linear(cfg.vit_dim, 3 * cfg.patch_size ** 2)
        init_weights(self.head)

    def random_mask(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[n, tokens_per_view] bool (n = batch * views), exactly round(mask_ratio * tokens) True per row."""
        tokens = self.vit.tokens_per_view
        k = max(1, round(self.cfg.mask_ratio * tokens))
        order = torch.rand(n, tokens, generator=generator).argsort(dim=1)
        mask = torch.zeros(n, tokens, dtype=torch.bool)
        mask.scatter_(1, order[:, :k], True)
        return mask

    def forward(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """images [B, V, 3, S, S] in [0, 1]; mask [B*V, h*w] bool (True = hidden; None = nothing hidden)
        -> {"patches": [B*V, h*w, 3*p*p] predicted normalised pixels, "mask": mask,
            "tokens": [B, V*h*w, dim] the encoder's output}."""
        b, v = images.shape[:2]
        patches = self.vit.embed_patches(images)
        if mask is None:
            mask = torch.zeros(patches.shape[:2], dtype=torch.bool, device=images.device)
        patches = torch.where(mask.to(patches.device)[..., None], self.mask_token.to(patches.dtype), patches)
        tokens = self.vit.encode(patches, v)
        pred = self.head(tokens.view(b * v, self.vit.tokens_per_view, -1))
        return {"patches": pred, "mask": mask, "tokens": tokens}

    def loss(self, images: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"loss", "recon"}: MSE on the masked patches' normalised pixels (zeros = each patch's mean)."""
        out = self(images, mask)
        recon = masked_mse(out["patches"], patch_targets(images, self.cfg.patch_size), out["mask"])
        return {"loss": recon, "recon": recon}
