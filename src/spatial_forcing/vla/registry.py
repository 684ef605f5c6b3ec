"""Policy registry: config.family -> factory, imported lazily."""

from __future__ import annotations

from typing import Any

from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.loader import load_object
from spatial_forcing.vla.protocol import VLAPolicy

# family name -> "module:function"; each factory takes (config, tokenizer) and returns a VLAPolicy.
POLICIES: dict[str, str] = {
    "small_vla": "spatial_forcing.vla.model:build",
}


def build_policy(config: Any, tokenizer: Any) -> VLAPolicy:
    """Build the policy family named by `config.family` (default "small_vla")."""
    family = getattr(config, "family", "small_vla")
    if family not in POLICIES:
        raise SFError(f"unknown vla family {family!r}; expected one of {sorted(POLICIES)}")
    return load_object(POLICIES[family], f"vla family {family!r}")(config, tokenizer)
