"""`sf`: any LeRobot policy type trained with Spatial Forcing, given where its image tokens are.

    --policy.type=sf --policy.base_type=act --policy.base='{"chunk_size": 8, "dim_model": 256}'
    --policy.type=sf --policy.base_type=X --policy.base='{...}' --policy.layer_path=...
        --policy.num_layers=... --policy.token_grid=... --policy.token_offset=... --policy.token_dim=...

The wrapped policy is named by `base_type` and configured by `base`, a plain dict decoded into that type's
config here. It is not a nested `PreTrainedConfig` field on purpose: draccus would make that a choice over
every registered policy type, `sf` included, and build CLI actions for it without end (every `lerobot-train`
hung, for any policy type, since lerobot imports the plugin in every run). After `__post_init__`, and in a
saved config.json, `base` holds the whole wrapped config, so a checkpoint loads back as it was trained.

The wrapper's input/output features, device and AMP flag are the wrapped policy's (`base_config`); its delta
indices, optimizer and scheduler presets are delegated. The teacher needs [0, 1] images, so the wrapped
policy's VISUAL normalisation is set to IDENTITY (its exported config keeps that: the deployed policy sees
what training saw).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import draccus
from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import NormalizationMode

from lerobot_policy_sf.branch import check_align
from spatial_forcing.core.config import AlignConfig

log = logging.getLogger(__name__)
CAPTURES = ("output", "input")


@PreTrainedConfig.register_subclass("sf")
@dataclass
class SFConfig(PreTrainedConfig):
    # The wrapped policy's type: any registered LeRobot policy type but sf itself (--policy.base_type=act).
    base_type: str = "act"
    # The wrapped policy's config fields as a JSON object, e.g. --policy.base='{"chunk_size": 8}'; fields not
    # named keep the type's defaults. A saved config.json holds them all.
    base: dict[str, Any] = field(default_factory=dict)
    # Fill layer_path, num_layers, capture, sequence_first and token_* from a known policy: "auto" = the
    # preset of base_type if there is one (act) and layer_path is not given; a preset name; "" = the fields
    # below as given.
    layout_preset: str = "auto"
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
        if self.capture not in CAPTURES:
            raise ValueError(f"sf: --policy.capture must be one of {CAPTURES}, got {self.capture!r}")
        if len(self.token_grid) != 2:
            raise ValueError(f"sf: --policy.token_grid must be [h, w], got {self.token_grid}")
        check_align(self.align, "sf")
        self._base_config = decode_base(self.base_type, self.base, self.device)
        mapping = getattr(self._base_config, "normalization_mapping", None)
        if mapping is not None and mapping.get("VISUAL") is not NormalizationMode.IDENTITY:
            mapping["VISUAL"] = NormalizationMode.IDENTITY
            log.info("sf: the wrapped %s's VISUAL normalisation is IDENTITY (the teacher needs [0, 1] "
                     "images)", self.base_type)
        self.base = encode_base(self.base_config)

    @property
    def base_config(self) -> PreTrainedConfig:
        """The wrapped policy's config, given the wrapper's features and device on every read (lerobot fills
        them into the wrapper after parsing)."""
        base = self._base_config
        base.input_features = {k: v for k, v in (self.input_features or {}).items()
                               if k not in self.ignore_inputs}
        base.output_features = self.output_features
        base.device = self.device
        base.use_amp = self.use_amp
        return base

    def _save_pretrained(self, save_directory: Path) -> None:
        self.base = encode_base(self.base_config)  # the whole wrapped config, as it is now
        super()._save_pretrained(save_directory)

    @property
    def normalization_mapping(self):
        return self._base_config.normalization_mapping

    @property
    def image_features(self):
        return self.base_config.image_features

    @property
    def observation_delta_indices(self):
        return self._base_config.observation_delta_indices

    @property
    def action_delta_indices(self):
        return self._base_config.action_delta_indices

    @property
    def reward_delta_indices(self):
        return self._base_config.reward_delta_indices

    def get_optimizer_preset(self):
        return self._base_config.get_optimizer_preset()

    def get_scheduler_preset(self):
        return self._base_config.get_scheduler_preset()

    def validate_features(self) -> None:
        self.base_config.validate_features()


def decode_base(base_type: str, fields: dict, device: str | None) -> PreTrainedConfig:
    """The wrapped policy's config of type `base_type` from its fields (JSON values, as in config.json)."""
    known = PreTrainedConfig.get_known_choices()
    if base_type == "sf" or base_type not in known:
        choices = sorted(k for k in known if k != "sf")
        raise ValueError(f"sf: --policy.base_type {base_type!r}: expected a policy type to wrap, one of "
                         f"{choices}")
    if not isinstance(fields, dict):
        raise ValueError(f"sf: --policy.base must be a JSON object of {base_type} config fields, got "
                         f"{fields!r}")
    fields = dict(fields)
    named = fields.pop("type", base_type)
    if named != base_type:
        raise ValueError(f"sf: --policy.base names type {named!r} but --policy.base_type is {base_type!r}")
    fields.setdefault("device", device)
    try:
        return draccus.decode(PreTrainedConfig.get_choice_class(base_type), fields)
    except (draccus.utils.DecodingError, draccus.utils.ParsingError) as e:
        raise ValueError(f"sf: --policy.base is not a valid {base_type} config: {e}") from e


def encode_base(config: PreTrainedConfig) -> dict:
    """A wrapped config as plain JSON values, without its type (that is `base_type`)."""
    out = json.loads(json.dumps(draccus.encode(config)))
    out.pop("type", None)
    return out
