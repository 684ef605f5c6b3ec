"""Transformer pieces shared by the mini teachers: conv patch embedding, 2D RoPE, VGGT-style blocks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PatchEmbed(nn.Module):
    """Normalise [N, 3, H, W] images in [0, 1] with ImageNet statistics and patchify with a strided conv."""

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, h*w, dim] (row-major grid)."""
        x = self.proj((x - self.mean) / self.std)
        return x.flatten(2).transpose(1, 2)


def grid_positions(h: int, w: int, num_special: int, device: torch.device | None = None) -> torch.Tensor:
    """Integer (row, col) positions: `num_special` tokens at (0, 0), then an h x w grid at (r+1, c+1)."""
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    grid = torch.stack([rows.flatten(), cols.flatten()], dim=-1) + 1
    special = torch.zeros(num_special, 2, dtype=grid.dtype, device=device)
    return torch.cat([special, grid], dim=0)  # [P, 2]


class Rope2D(nn.Module):
    """2D rotary embedding: the first half of each head's channels rotates with the row, the second half
    with the column (VGGT layout, base frequency 100)."""

    def __init__(self, head_dim: int, base: float = 100.0) -> None:
        super().__init__()
        if head_dim % 4:
            raise ValueError(f"head_dim must be divisible by 4 for 2D RoPE, got {head_dim}")
        quarter = head_dim // 4
        inv = base ** (-torch.arange(quarter, dtype=torch.float32) / quarter)
        self.register_buffer("inv_freq", inv, persistent=False)

    def _rotate(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Rotate-half RoPE of x [..., P, d] with scalar positions pos [P]."""
        ang = pos.to(x.dtype)[:, None] * self.inv_freq.to(x.dtype)[None, :]  # [P, d/2]
        ang = torch.cat([ang, ang], dim=-1)
        x1, x2 = x.chunk(2, dim=-1)
        rotated = torch.cat([-x2, x1], dim=-1)
        return x * ang.cos() + rotated * ang.sin()

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """x [N, heads, P, head_dim], pos [P, 2] -> same shape."""
        y_part, x_part = x.chunk(2, dim=-1)
        return torch.cat([self._rotate(y_part, pos[:, 0]), self._rotate(x_part, pos[:, 1])], dim=-1)


class Attention(nn.Module):
    """Multi-head self-attention with fused qkv, per-head QK LayerNorm and 2D RoPE."""

    def __init__(self, dim: int, heads: int, rope: Rope2D) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.LayerNorm(dim // heads)
        self.k_norm = nn.LayerNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)
        self.rope = rope

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """x [N, P, dim], pos [P, 2] -> [N, P, dim]."""
        n, p, d = x.shape
        qkv = self.qkv(x).view(n, p, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q = self.rope(self.q_norm(q), pos)
        k = self.rope(self.k_norm(k), pos)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, p, d))


class Block(nn.Module):
    """Pre-LN transformer block with LayerScale: x + ls1*attn(ln(x)); x + ls2*mlp(ln(x))."""

    def __init__(self, dim: int, heads: int, rope: Rope2D, mlp_ratio: float = 4.0,
                 ls_init: float = 0.1) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, rope)
        self.ls1 = nn.Parameter(torch.full((dim,), ls_init))
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ls2 = nn.Parameter(torch.full((dim,), ls_init))

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """x [N, P, dim] with per-token positions pos [P, 2]."""
        x = x + self.ls1 * self.attn(self.norm1(x), pos)
        return x + self.ls2 * self.mlp(self.norm2(x))


class UnpatchifyHead(nn.Module):
    """LayerNorm + MLP mapping each patch token to a patch x patch block of `out_ch` values."""

    def __init__(self, in_dim: int, out_ch: int, patch: int, hidden: int = 256) -> None:
        super().__init__()
        self.patch, self.out_ch = patch, out_ch
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(),
            nn.Linear(hidden, out_ch * patch * patch),
        )

    def forward(self, tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """tokens [N, h*w, in_dim] -> maps [N, out_ch, h*patch, w*patch]."""
        n, p = tokens.shape[0], self.patch
        x = self.net(tokens).view(n, h, w, self.out_ch, p, p)
        return x.permute(0, 3, 1, 4, 2, 5).reshape(n, self.out_ch, h * p, w * p)


@dataclass
class MiniConfig:
    """Size of a mini teacher backbone (shared by mini3d and mini2d) plus its pretraining head options."""

    image_size: int = 64  # native input size (square); other inputs are resized to this scale
    patch: int = 8  # conv patch size; image_size / patch = feature grid side (8 at 64 px)
    dim: int = 192  # token width; teacher features have 2 * dim channels (frame || global)
    depth: int = 4  # number of (frame, global) block pairs = teacher layers
    heads: int = 3  # attention heads (head dim = dim / heads, must be divisible by 4)
    mlp_ratio: float = 4.0  # MLP hidden width / dim
    num_registers: int = 4  # register tokens per view (plus one camera token)
    head_hidden: int = 256  # hidden width of the pretraining heads
    mask_ratio: float = 0.6  # mini2d only: fraction of patches masked during pretraining

    def __post_init__(self) -> None:
        if self.image_size % self.patch:
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch {self.patch}")
        if self.dim % self.heads or (self.dim // self.heads) % 4:
            raise ValueError(f"dim {self.dim} / heads {self.heads} must be an integer divisible by 4")


class AlternatingBackbone(nn.Module):
    """VGGT-style aggregator: per-view patch tokens plus camera/register tokens, then `depth` pairs of a
    frame block (within one view) and a second block that attends across all views (`cross_view=True`)
    or again within one view (`cross_view=False`, the 2D control). Layer i outputs frame_i || second_i."""

    def __init__(self, cfg: MiniConfig, cross_view: bool = True) -> None:
        super().__init__()
        self.cfg, self.cross_view = cfg, cross_view
        self.patch_embed = PatchEmbed(cfg.patch, cfg.dim)
        copies = 2 if cross_view else 1  # copy 0 for the first view, copy 1 for the others (VGGT)
        self.camera_token = nn.Parameter(torch.randn(1, copies, 1, cfg.dim) * 0.02)
        self.register_token = nn.Parameter(torch.randn(1, copies, cfg.num_registers, cfg.dim) * 0.02)
        self.rope = Rope2D(cfg.dim // cfg.heads)
        self.frame_blocks = nn.ModuleList(self._block() for _ in range(cfg.depth))
        self.global_blocks = nn.ModuleList(self._block() for _ in range(cfg.depth))

    def _block(self) -> Block:
        return Block(self.cfg.dim, self.cfg.heads, self.rope, self.cfg.mlp_ratio)

    @property
    def num_special(self) -> int:
        """Camera token + registers in front of each view's patch tokens."""
        return 1 + self.cfg.num_registers

    def special_tokens(self, b: int, v: int) -> torch.Tensor:
        """[B*V, num_special, dim]: first view gets copy 0, the other views copy 1."""
        tok = torch.cat([self.camera_token, self.register_token], dim=2)  # [1, copies, S, D]
        if tok.shape[1] == 1:
            tok = tok.expand(b, v, -1, -1)
        else:
            tok = torch.cat([tok[:, :1].expand(b, 1, -1, -1), tok[:, 1:].expand(b, v - 1, -1, -1)], dim=1)
        return tok.reshape(b * v, self.num_special, self.cfg.dim)

    def forward(self, patches: torch.Tensor, b: int, v: int, h: int, w: int,
                keep: set[int] | None = None) -> dict[int, torch.Tensor]:
        """patches [B*V, h*w, dim] (already embedded) -> {layer: [B, V, S + h*w, 2*dim]} for layers in
        `keep` (all when None)."""
        x = torch.cat([self.special_tokens(b, v), patches], dim=1)
        pos = grid_positions(h, w, self.num_special, x.device)
        p, d = x.shape[1], self.cfg.dim
        out: dict[int, torch.Tensor] = {}
        last = self.cfg.depth - 1 if keep is None else max(keep)
        for i in range(last + 1):
            x = self.frame_blocks[i](x, pos)
            frame_out = x
            if self.cross_view:
                x = self.global_blocks[i](x.reshape(b, v * p, d), pos.repeat(v, 1)).reshape(b * v, p, d)
            else:
                x = self.global_blocks[i](x, pos)
            if keep is None or i in keep:
                out[i] = torch.cat([frame_out, x], dim=-1).view(b, v, p, 2 * d)
        return out
