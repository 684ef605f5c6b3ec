"""Size configuration of the VGGT aggregator: the VGGT-1B default and a tiny random test preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from spatial_forcing.utils.errors import SFError


@dataclass(frozen=True)
class AggregatorConfig:
    """Hyper-parameters of the aggregator. Defaults equal the official VGGT-1B checkpoint."""

    img_size: int = 518  # image side of the DINOv2 pos_embed (it has 1 + (img/patch)^2 rows)
    patch_size: int = 14  # pixels per patch side
    embed_dim: int = 1024  # token width C, shared by the DINOv2 patch embed and the alternating blocks
    depth: int = 24  # number of frame blocks (and of global blocks); one output per pair
    num_heads: int = 16  # heads of the frame/global blocks (head dim = embed_dim / num_heads)
    mlp_ratio: float = 4.0  # MLP hidden width / embed_dim, for every block
    num_register_tokens: int = 4  # registers of the DINOv2 patch embed and of the aggregator
    patch_embed_depth: int = 24  # number of DINOv2 blocks
    patch_embed_heads: int = 16  # heads of the DINOv2 blocks
    rope_freq: float = 100.0  # base frequency of the 2D RoPE in the frame/global blocks
    init_values: float = 0.01  # LayerScale init of the frame/global blocks (random init only)
    patch_init_values: float = 1.0  # LayerScale init of the DINOv2 blocks (random init only)

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads or (self.embed_dim // self.num_heads) % 4:
            raise SFError(
                f"vggt config: embed_dim {self.embed_dim} / num_heads {self.num_heads} must give a head dim "
                "divisible by 4 (2D RoPE)"
            )
        if self.embed_dim % self.patch_embed_heads:
            raise SFError(f"vggt config: embed_dim {self.embed_dim} not divisible by patch_embed_heads")
        if self.img_size % self.patch_size:
            raise SFError(
                f"vggt config: img_size {self.img_size} is not a multiple of patch_size {self.patch_size}"
            )

    @property
    def patch_start_idx(self) -> int:
        """Index of the first patch token in the aggregator sequence (camera + registers before it)."""
        return 1 + self.num_register_tokens

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON / safetensors metadata)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AggregatorConfig":
        """Inverse of to_dict; unknown fields are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SFError(f"vggt config: unknown fields {unknown}")
        return cls(**data)


PRESETS: dict[str, AggregatorConfig] = {
    "vggt-1b": AggregatorConfig(),
    "tiny": AggregatorConfig(
        img_size=56, embed_dim=32, depth=4, num_heads=2, patch_embed_depth=2, patch_embed_heads=2
    ),
}


def get_config(config: str | AggregatorConfig | dict[str, Any]) -> AggregatorConfig:
    """Resolve a preset name, a dict of fields or a config object."""
    if isinstance(config, AggregatorConfig):
        return config
    if isinstance(config, dict):
        return AggregatorConfig.from_dict(config)
    if config not in PRESETS:
        raise SFError(f"vggt config {config!r} unknown; expected one of {sorted(PRESETS)}")
    return PRESETS[config]
