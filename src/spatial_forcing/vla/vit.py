"""Small ViT patch encoder shared across camera views, with a learned per-view embedding.

Two stems turn pixels into one token per patch: "patch" (the ViT's linear patch embedding, a conv with
kernel = stride = patch size) and "conv" (a stack of 3x3 stride-2 convolutions down to the same grid, then a
1x1 projection: the convolutional stem of Xiao et al. 2021, "Early convolutions help transformers see better",
which trains faster and generalises better from few images).
"""

from __future__ import annotations

import torch
from torch import nn

from spatial_forcing.core.pe import sincos_pe_2d
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.blocks import Block, init_weights
from spatial_forcing.vla.config import POS_EMBEDS, STEMS

# ImageNet statistics: inputs arrive in [0, 1] and are normalised here, inside the model.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


def conv_stem(patch_size: int, dim: int) -> nn.Sequential:
    """log2(patch_size) blocks of (3x3 conv stride 2, GroupNorm, GELU), widths doubling up to `dim`, then a 1x1
    conv to `dim`: [N, 3, S, S] -> [N, dim, S/patch, S/patch]. GroupNorm, not BatchNorm: no batch statistics,
    so training, evaluation and multi-process runs compute the same function."""
    n = patch_size.bit_length() - 1
    widths = [max(dim >> (n - i), 16) for i in range(1, n + 1)]
    layers: list[nn.Module] = []
    for c_in, c_out in zip([3, *widths[:-1]], widths):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(min(8, c_out // 4), c_out), nn.GELU()]
    return nn.Sequential(*layers, nn.Conv2d(widths[-1], dim, 1))


class ViTEncoder(nn.Module):
    """images [B, V, 3, S, S] in [0, 1] -> patch tokens [B, V*h*w, dim], view-major, each grid row-major.

    One encoder (stem, learned positional embedding, pre-LN blocks, final LayerNorm) processes every
    view; a learned view embedding is added afterwards so the decoder can tell the views apart.
    """

    def __init__(self, image_size: int, patch_size: int, views: int, dim: int, depth: int, heads: int,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, init_std: float = 0.02,
                 stem: str = "patch", pos_embed: str = "learned") -> None:
        super().__init__()
        if stem not in STEMS or pos_embed not in POS_EMBEDS:  # e.g. a vit2d pretraining config
            raise SFError(f"vit: stem={stem!r} / pos_embed={pos_embed!r}, expected one of {list(STEMS)} / "
                          f"{list(POS_EMBEDS)}")
        self.image_size = image_size
        self.views = views
        self.grid = (image_size // patch_size, image_size // patch_size)
        num_patches = self.grid[0] * self.grid[1]
        if stem == "conv":
            self.patch: nn.Module = conv_stem(patch_size, dim)
        else:
            self.patch = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        if pos_embed == "sincos":  # fixed 2D sin-cos at unit scale (MAE): where a patch is, from step 0
            fixed = sincos_pe_2d(*self.grid, dim, scale=1.0).reshape(1, num_patches, dim).float()
            self.register_buffer("pos_embed", fixed, persistent=False)
        else:  # learned, initialised small (ViT): position is learned along with everything else
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, dim))
        self.view_embed = nn.Parameter(torch.zeros(1, views, 1, dim))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1), persistent=False)
        self.apply(lambda m: init_weights(m, init_std))
        if isinstance(self.pos_embed, nn.Parameter):
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
