"""Small ViT patch encoder shared across camera views, with a learned per-view embedding."""

from __future__ import annotations

import torch
from torch import nn

from spatial_forcing.vla.blocks import Block, init_weights

# ImageNet statistics: inputs arrive in [0, 1] and are normalised here, inside the model.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


class ViTEncoder(nn.Module):
    """images [B, V, 3, S, S] in [0, 1] -> patch tokens [B, V*h*w, dim], view-major, each grid row-major.

    One encoder (patch conv, learned positional embedding, pre-LN blocks, final LayerNorm) processes every
    view; a learned view embedding is added afterwards so the decoder can tell the views apart.
    """

    def __init__(self, image_size: int, patch_size: int, views: int, dim: int, depth: int, heads: int,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, init_std: float = 0.02) -> None:
        super().__init__()
        self.image_size = image_size
        self.views = views
        self.grid = (image_size // patch_size, image_size // patch_size)
        num_patches = self.grid[0] * self.grid[1]
        self.patch = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, dim))
        self.view_embed = nn.Parameter(torch.zeros(1, views, 1, dim))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1), persistent=False)
        self.apply(lambda m: init_weights(m, init_std))
        nn.init.trunc_normal_(self.pos_embed, std=init_std)
        nn.init.trunc_normal_(self.view_embed, std=init_std)

    @property
    def tokens_per_view(self) -> int:
        return self.grid[0] * self.grid[1]

    def embed_patches(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, V, 3, S, S] in [0, 1] -> patch embeddings [B*V, h*w, dim], row-major, before the
        positional embedding: where masked-image pretraining (vla.vision_pretrain) swaps in its mask token."""
        x = (images.flatten(0, 1) - self.mean) / self.std  # [B*V, 3, S, S]
        return self.patch(x).flatten(2).transpose(1, 2)

    def encode(self, patches: torch.Tensor, views: int) -> torch.Tensor:
        """patch embeddings [B*V, h*w, dim] of `views` views per sample -> tokens [B, V*h*w, dim]."""
        x = self.drop(patches + self.pos_embed)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x).view(-1, views, self.tokens_per_view, x.shape[-1]) + self.view_embed
        return x.flatten(1, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encode(self.embed_patches(images), images.shape[1])
