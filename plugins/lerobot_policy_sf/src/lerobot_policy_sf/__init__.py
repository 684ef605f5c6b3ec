"""lerobot_policy_sf: Spatial Forcing policies for stock LeRobot.

lerobot's `register_third_party_plugins()` imports this package (its distribution Name starts with
`lerobot_policy_`); importing it registers the policy types:

    smolvla_sf   SmolVLA + SF on chosen VLM layers (configuration_smolvla_sf, modeling_smolvla_sf)
    sf           any policy type + SF, given its layer path and token layout (configuration_sf,
                 modeling_sf)
"""

from lerobot_policy_sf.configuration_sf import SFConfig
from lerobot_policy_sf.configuration_smolvla_sf import SmolVLASFConfig
from lerobot_policy_sf.processor_sf import make_sf_pre_post_processors
from lerobot_policy_sf.processor_smolvla_sf import make_smolvla_sf_pre_post_processors

__all__ = [
    "SFConfig", "SmolVLASFConfig", "make_sf_pre_post_processors", "make_smolvla_sf_pre_post_processors",
]
