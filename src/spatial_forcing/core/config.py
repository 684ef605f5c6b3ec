"""AlignConfig: every Spatial Forcing knob, with the paper / reference defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spatial_forcing.core.layers import MODES
from spatial_forcing.core.projector import NORMS
from spatial_forcing.core.target_norm import TARGET_NORMS
from spatial_forcing.utils.layer_index import decoder_layer


@dataclass
class AlignConfig:
    enabled: bool = True  # False: the plain baseline (no teacher, no projector, no alignment loss)
    alpha: float = 0.5  # weight of the alignment loss: loss = action_loss + alpha * align_loss
    layers: list[int] = field(default_factory=list)  # student layers k (output after decoder layer k); [] = ~3/4 depth
    mode: str = "single"  # "single" | "multi" (one projector per layer, mean loss) | "adaptive" (learned softmax mix)
    teacher: str = "mini3d"  # teacher registry name (mini3d, mini2d, vggt, dinov2, siglip, oracle3d)
    teacher_layer: int = -1  # teacher layer used as target (reference: -1, the last aggregator output)
    use_pe: bool = True  # add the fixed 2D sin-cos PE to the target (reference: --use_vggt_pe True)
    pe_scale: float = 0.1  # PE scale (reference: 0.1)
    target_norm: str = "none"  # raw features before the PE: "none" (paper) | "token_mean" | "position_mean"
    target_norm_gamma: float = 0.6  # token_mean: fraction of each image's token mean removed (iREPA: 0.6)
    projector_norm: str = "layernorm"  # "layernorm" (reference code) | "batchnorm" (paper text) | "none"
    projector_hidden: int = 0  # hidden width of the projector MLP; 0 = the teacher's channels (reference: 2048 for VGGT)
    shift: int = 0  # token shift of the reference OpenVLA code ("gain_feat_1move"): 1 reproduces it
    until_step: int = 0  # align during the first N steps only, then action loss alone (HASTE); 0 = to the end

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"align.mode must be one of {MODES}, got {self.mode!r}")
        if self.projector_norm not in NORMS:
            raise ValueError(f"align.projector_norm must be one of {NORMS}, got {self.projector_norm!r}")
        if self.target_norm not in TARGET_NORMS:
            raise ValueError(f"align.target_norm must be one of {TARGET_NORMS}, got {self.target_norm!r}")
        if not 0.0 <= self.target_norm_gamma <= 1.0:
            raise ValueError(f"align.target_norm_gamma must be in [0, 1], got {self.target_norm_gamma}")
        if not (math.isfinite(self.alpha) and self.alpha >= 0):  # NaN passes a bare `< 0` test
            raise ValueError(f"align.alpha must be a finite number >= 0, got {self.alpha}")
        if self.shift < 0:  # the reference quirk reads 1 position later; earlier ones are not the image grid
            raise ValueError(f"align.shift must be >= 0, got {self.shift}")
        if self.until_step < 0:
            raise ValueError(f"align.until_step must be >= 0 (0 = align to the end), got {self.until_step}")
        if self.mode == "single" and len(self.layers) > 1:
            raise ValueError(f"align.mode 'single' takes one layer, got {self.layers}; use 'multi' or 'adaptive'")

    def active(self, step: int) -> bool:
        """Is the alignment loss on at 0-based `step`? Off for the baseline and from step `until_step` on."""
        return self.enabled and (self.until_step == 0 or step < self.until_step)

    def resolve_layers(self, num_layers: int) -> list[int]:
        """The student layers to align, checked against the VLA's depth (1..num_layers)."""
        layers = list(self.layers) or [max(1, round(0.75 * num_layers))]
        return [decoder_layer(k, num_layers, "align.layers: layer") for k in layers]
