"""Configuration of the small OpenVLA-OFT-shaped VLA, its presets and (de)serialisation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from spatial_forcing.utils.errors import SFError

HEADS = ("l1", "flow")
STEMS = ("patch", "conv")  # vit_stem values (vla.vit)
POS_EMBEDS = ("learned", "sincos")  # vit_pos_embed values (vla.vit)
ACTION_QUERIES = ("zero", "learned")
ACTION_SLOTS = ("per_dim", "per_step")


@dataclass
class SmallVLAConfig:
    """Every size and switch of `SmallVLA`. The vocabulary comes from the tokenizer, not from here."""

    family: str = "small_vla"  # policy registry name (vla.registry.POLICIES)
    # --- vision ---
    image_size: int = 64  # square input side in pixels (images arrive as [B, V, 3, S, S] in [0, 1])
    patch_size: int = 8  # ViT patch side; must divide image_size (64/8 -> an 8x8 grid per view)
    views: int = 2  # camera views, in the fixed order agentview, wrist
    vit_dim: int = 192  # ViT width
    vit_depth: int = 4  # ViT transformer blocks
    vit_heads: int = 3  # ViT attention heads; must divide vit_dim
    vit_mlp_ratio: float = 4.0  # ViT MLP hidden = ratio * vit_dim
    vit_stem: str = "patch"  # pixels -> patch tokens: "patch" (linear patch embedding, as ViTs) or "conv" (3x3
    # stride-2 conv stack to the same grid, Xiao et al. 2021; patch_size must be a power of 2)
    vit_pos_embed: str = "learned"  # "learned" (ViT: a parameter initialised small) or "sincos" (fixed 2D sin-cos
    # at unit scale, MAE; vit_dim must be divisible by 4)
    # vision_init is read when the policy is built, and ignored when an exported policy is loaded (its weights
    # already hold the trained ViT). "shipped" = spatial_forcing/assets/vit2d_<S>px_p<P>_d<dim>x<depth>.*
    vision_init: str = ""  # vit2d weight file to initialise the ViT from; "" = random; "shipped" = assets/
    # --- language model (a transformers LlamaModel built from scratch) ---
    llm_dim: int = 256  # decoder hidden size
    llm_layers: int = 8  # decoder layers
    llm_heads: int = 4  # decoder attention heads; must divide llm_dim
    llm_mlp: int | None = None  # decoder MLP hidden size; None means 4 * llm_dim
    rope_theta: float = 10000.0  # rotary embedding base
    max_text_tokens: int = 16  # language tokens per sample (truncated / padded to this)
    use_bos: bool = True  # put a BOS token first, as OpenVLA does (shifts the visual tokens by one)
    # --- robot ---
    proprio_dim: int = 8  # observation.state size (eef pos 3, axis-angle 3, gripper qpos 2)
    action_dim: int = 7  # action size (delta pos 3, delta axis-angle 3, gripper)
    chunk: int = 8  # actions predicted per call (OFT LIBERO: 8)
    action_query: str = "zero"  # action-slot input embeddings: "zero" (as OFT) or "learned"
    action_slots: str = "per_dim"  # decoder tokens of the action chunk: "per_dim" (OFT: chunk x action_dim slots,
    # one per action scalar) or "per_step" (one slot per chunk step, as ACT/pi0 queries: 7x fewer action tokens)
    # --- action head ---
    head: str = "l1"  # "l1" (OFT L1 regression, MLPResNet) or "flow" (pi0-style flow matching)
    head_hidden: int | None = None  # L1 head MLPResNet width; None means llm_dim
    head_blocks: int = 2  # residual blocks of the L1 head's MLPResNet
    flow_dim: int = 128  # width of the flow-matching action expert
    flow_layers: int = 2  # transformer blocks of the flow-matching action expert
    flow_heads: int = 2  # attention heads of the flow-matching action expert
    flow_steps: int = 10  # Euler steps at inference (flow head only)
    flow_samples: int = 4  # noise draws per example per training step (prefix computed once; pi0 uses 1)
    # --- regularisation / init ---
    dropout: float = 0.0  # dropout in ViT, projector, decoder attention and heads
    init_std: float = 0.02  # std of normal weight init (decoder uses it as initializer_range)
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes kept with the checkpoint

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) patch grid of one view."""
        g = self.image_size // self.patch_size
        return (g, g)

    @property
    def mlp_dim(self) -> int:
        """Decoder MLP hidden size actually used."""
        return self.llm_mlp if self.llm_mlp is not None else 4 * self.llm_dim

    @property
    def slots_per_step(self) -> int:
        """Action-slot tokens per chunk step: action_dim ("per_dim", OFT) or 1 ("per_step")."""
        return self.action_dim if self.action_slots == "per_dim" else 1

    @property
    def num_action_slots(self) -> int:
        """Action-slot tokens in the decoder sequence (chunk * action_dim as OFT, or chunk)."""
        return self.chunk * self.slots_per_step

    def validate(self) -> "SmallVLAConfig":
        """Raise SFError naming the first inconsistent field; return self."""
        positive = ["image_size", "patch_size", "views", "vit_dim", "vit_depth", "vit_heads", "llm_dim",
                    "llm_layers", "llm_heads", "max_text_tokens", "proprio_dim", "action_dim", "chunk",
                    "flow_dim", "flow_layers", "flow_heads", "flow_steps", "flow_samples"]
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SFError(f"vla config: {name}={value!r}, expected a positive integer")
        if self.image_size % self.patch_size:
            raise SFError(f"vla config: patch_size={self.patch_size} must divide "
                          f"image_size={self.image_size}")
        for dim, heads in (("vit_dim", "vit_heads"), ("llm_dim", "llm_heads"), ("flow_dim", "flow_heads")):
            if getattr(self, dim) % getattr(self, heads):
                raise SFError(f"vla config: {heads}={getattr(self, heads)} must divide "
                              f"{dim}={getattr(self, dim)}")
        if (self.llm_dim // self.llm_heads) % 2:
            raise SFError(f"vla config: llm_dim/llm_heads={self.llm_dim // self.llm_heads} must be even "
                          "(rotary embeddings)")
        if self.flow_dim % 2:
            raise SFError(f"vla config: flow_dim={self.flow_dim} must be even (sin/cos time embedding)")
        if self.vit_stem not in STEMS:
            raise SFError(f"vla config: vit_stem={self.vit_stem!r}, expected one of {list(STEMS)}")
        if self.vit_stem == "conv" and self.patch_size & (self.patch_size - 1):
            raise SFError(f"vla config: vit_stem='conv' needs a power-of-2 patch_size, got {self.patch_size}")
        if self.vit_pos_embed not in POS_EMBEDS:
            raise SFError(f"vla config: vit_pos_embed={self.vit_pos_embed!r}, expected one of {list(POS_EMBEDS)}")
        if self.vit_pos_embed == "sincos" and self.vit_dim % 4:
            raise SFError(f"vla config: vit_pos_embed='sincos' needs vit_dim divisible by 4, got {self.vit_dim}")
        if not isinstance(self.vision_init, str):
            raise SFError(f"vla config: vision_init={self.vision_init!r}, expected a path, 'shipped' or ''")
        if self.head not in HEADS:
            raise SFError(f"vla config: head={self.head!r}, expected one of {list(HEADS)}")
        if self.action_query not in ACTION_QUERIES:
            raise SFError(f"vla config: action_query={self.action_query!r}, "
                          f"expected one of {list(ACTION_QUERIES)}")
        if self.action_slots not in ACTION_SLOTS:
            raise SFError(f"vla config: action_slots={self.action_slots!r}, expected one of {list(ACTION_SLOTS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise SFError(f"vla config: dropout={self.dropout!r}, expected a value in [0, 1)")
        return self


def config_to_dict(config: SmallVLAConfig) -> dict[str, Any]:
    """Plain JSON-able dict of every field."""
    return dataclasses.asdict(config)


def _check_known(data: dict[str, Any], where: str) -> None:
    """Raise SFError naming the keys of `data` that are not SmallVLAConfig fields."""
    names = {f.name for f in dataclasses.fields(SmallVLAConfig)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SFError(f"{where}: unknown field(s) {unknown}; expected a subset of {sorted(names)}")


def config_from_dict(data: dict[str, Any]) -> SmallVLAConfig:
    """Inverse of `config_to_dict`; unknown keys raise SFError (a checkpoint from another version)."""
    _check_known(data, "vla config")
    return SmallVLAConfig(**data).validate()


def tiny(**overrides: Any) -> SmallVLAConfig:
    """Seconds-fast model for unit tests: 32 px views, 4x4 grid, 64-wide ViT (1 block), decoder 64x2."""
    base = dict(image_size=32, patch_size=8, vit_dim=64, vit_depth=1, vit_heads=2, llm_dim=64, llm_layers=2,
                llm_heads=2, max_text_tokens=8, flow_dim=64, flow_layers=1, flow_heads=2, flow_steps=10)
    return SmallVLAConfig(**{**base, **overrides}).validate()


def demo(**overrides: Any) -> SmallVLAConfig:
    """15-minute CPU demo student: 64 px views at patch 16 (4x4 grid), ViT 128x2, decoder 128x4."""
    base = dict(image_size=64, patch_size=16, vit_dim=128, vit_depth=2, vit_heads=2, llm_dim=128,
                llm_layers=4, llm_heads=2, max_text_tokens=16, flow_dim=128, flow_layers=2, flow_heads=2)
    return SmallVLAConfig(**{**base, **overrides}).validate()


def small(**overrides: Any) -> SmallVLAConfig:
    """1-2 hour CPU experiment student (ml-on-cpu 7b): 64 px at patch 16, ViT 192x4, decoder 256x8."""
    base = dict(image_size=64, patch_size=16, vit_dim=192, vit_depth=4, vit_heads=3, llm_dim=256,
                llm_layers=8, llm_heads=4)
    return SmallVLAConfig(**{**base, **overrides}).validate()


PRESETS = {"tiny": tiny, "demo": demo, "small": small}


def preset(name: str, **overrides: Any) -> SmallVLAConfig:
    """A named preset ("tiny", "demo", "small") with field overrides."""
    if name not in PRESETS:
        raise SFError(f"unknown vla preset {name!r}; expected one of {sorted(PRESETS)}")
    _check_known(overrides, "vla")
    return PRESETS[name](**overrides)
