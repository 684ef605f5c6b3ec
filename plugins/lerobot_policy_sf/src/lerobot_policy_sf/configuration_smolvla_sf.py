"""`smolvla_sf`: SmolVLA trained with Spatial Forcing on one (or more) of its VLM decoder layers."""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig

from lerobot_policy_sf.branch import check_align
from spatial_forcing.core.config import AlignConfig


@PreTrainedConfig.register_subclass("smolvla_sf")
@dataclass
class SmolVLASFConfig(SmolVLAConfig):
    # Every SF knob of our core (alpha, layers, teacher, teacher_layer, PE, projector ...):
    # --policy.align.<field>. layers count the kept VLM decoder layers (1..num_vlm_layers): k = the stream
    # after layer k.
    align: AlignConfig = field(default_factory=AlignConfig)
    # Teacher weights: "" = the teacher's default (mini3d and mini2d ship theirs), a local path (vggt:
    # model.pt), or "random" (tests).
    teacher_weights: str = ""
    # Log action_loss, align_loss and align_cos every N training steps with Python logging (lerobot's
    # console line shows only its loss; with --wandb.enable=true all are logged there). 0 = never.
    align_log_every: int = 100
    # SF must train the aligned VLM layers: SmolVLA's default (True) freezes the whole VLM, so the alignment
    # loss would only train the projector. False trains the VLM except its last layer (SmolVLA's own rule).
    train_expert_only: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.align.enabled and self.train_expert_only:
            raise ValueError("smolvla_sf: train_expert_only=True freezes the VLM, so the aligned layers "
                             "could not learn; set --policy.train_expert_only=false (the default) or "
                             "--policy.align.enabled=false")
        if self.resize_imgs_with_padding is None:
            raise ValueError("smolvla_sf: resize_imgs_with_padding must be set (the image geometry the "
                             "teacher shares with the student)")
        check_align(self.align, "smolvla_sf")
