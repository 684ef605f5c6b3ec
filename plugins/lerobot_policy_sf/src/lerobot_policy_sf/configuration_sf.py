"""`sf`: any LeRobot policy type trained with Spatial Forcing, given where its image tokens are.

    --policy.type=sf --policy.base.type=act --policy.base.<ACT fields> --policy.layout_preset=act
    --policy.type=sf --policy.base.type=X --policy.layer_path=... --policy.num_layers=...
        --policy.token_grid=... --policy.token_offset=... --policy.token_dim=...

The wrapped policy's own config is `base`; its input/output features, device, delta indices, optimizer and
scheduler presets are the wrapper's. The teacher needs [0, 1] images, so the wrapped policy's VISUAL
normalisation is set to IDENTITY (its exported config keeps that: the deployed policy sees what training saw).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import NormalizationMode

from lerobot_policy_sf.branch import check_align
from spatial_forcing.core.config import AlignConfig

log = logging.getLogger(__name__)
CAPTURES = ("output", "input")


@PreTrainedConfig.register_subclass("sf")
@dataclass
class SFConfig(PreTrainedConfig):
    # The wrapped policy's config: --policy.base.type=<type> and any --policy.base.<field>.
    base: PreTrainedConfig | None = None
    # Fill layer_path, num_layers, capture, sequence_first and token_* from the wrapped policy ("act");
    # "" = the fields below as given.
    layout_preset: str = ""
    # Module path (from the wrapped policy) of the layer whose output (or input) is the token stream; "{i}" is
    # replaced by k-1 for aligned layer k (ACT: "model.encoder.layers.{i}").
    layer_path: str = ""
    num_layers: int = 0  # how many such layers there are: align.layers are checked against 1..num_layers
    capture: str = "output"  # "output": the module's output (forward hook); "input": its 1st input (pre-hook)
    sequence_first: bool = False  # the stream is [T, B, D] (torch's transformer default), not [B, T, D]
    token_offset: int = 0  # stream position of camera 1's first image token
    token_grid: list[int] = field(default_factory=lambda: [0, 0])  # (h, w) image tokens per camera, row-major
    token_stride: int = 0  # positions between consecutive cameras' first tokens; 0 = h*w (back to back)
    token_dim: int = 0  # channels D of the stream (the projector's input)
    # Every SF knob of our core (alpha, layers, teacher, teacher_layer, PE, projector ...):
    # --policy.align.<field>.
    align: AlignConfig = field(default_factory=AlignConfig)
    teacher_weights: str = ""  # "" = the teacher's default (mini3d/mini2d ship theirs), a path, or "random"
    align_log_every: int = 100  # log action_loss, align_loss, align_cos every N training steps; 0 = never
    # Dataset features the wrapped policy does not take as inputs (e.g. our tabletop's
    # observation.environment_state, NaN for absent objects, which ACT would otherwise read).
    ignore_inputs: list[str] = field(default_factory=list)

    def __post_init__(self):
        super().__post_init__()
        if self.base is None:
            raise ValueError("sf: the wrapped policy is missing: pass --policy.base.type=<policy type> "
                             "(e.g. act)")
        if self.base.type == "sf":
            raise ValueError("sf: --policy.base.type=sf would wrap the wrapper; name the policy to train "
                             "(e.g. act)")
        if self.capture not in CAPTURES:
            raise ValueError(f"sf: --policy.capture must be one of {CAPTURES}, got {self.capture!r}")
        if len(self.token_grid) != 2:
            raise ValueError(f"sf: --policy.token_grid must be [h, w], got {self.token_grid}")
        check_align(self.align, "sf")
        mapping = getattr(self.base, "normalization_mapping", None)
        if mapping is not None and mapping.get("VISUAL") is not NormalizationMode.IDENTITY:
            mapping["VISUAL"] = NormalizationMode.IDENTITY
            log.info("sf: the wrapped %s's VISUAL normalisation is IDENTITY (the teacher needs [0, 1] "
                     "images)", self.base.type)
        self.sync_base()

    def sync_base(self) -> PreTrainedConfig:
        """Give the wrapped config the wrapper's features and device; returns it."""
        self.base.input_features = {k: v for k, v in (self.input_features or {}).items()
                                    if k not in self.ignore_inputs}
        self.base.output_features = self.output_features
        self.base.device = self.device
        self.base.use_amp = self.use_amp
        return self.base

    @property
    def normalization_mapping(self):
        return self.base.normalization_mapping

    @property
    def image_features(self):
        return self.sync_base().image_features

    @property
    def observation_delta_indices(self):
        return self.base.observation_delta_indices

    @property
    def action_delta_indices(self):
        return self.base.action_delta_indices

    @property
    def reward_delta_indices(self):
        return self.base.reward_delta_indices

    def get_optimizer_preset(self):
        return self.base.get_optimizer_preset()

    def get_scheduler_preset(self):
        return self.base.get_scheduler_preset()

    def validate_features(self) -> None:
        self.sync_base().validate_features()
