"""`sf teacher keys [vggt] [--json]`: the teacher's state_dict key -> shape map, built on the meta device.

The keys carry the official checkpoint's `aggregator.` prefix, so the list can be diffed against
`model.pt` directly. Nothing is allocated: the model lives on the meta device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.teachers.vggt.config import PRESETS, get_config
from spatial_forcing.teachers.vggt.loading import PREFIX
from spatial_forcing.utils.errors import SFError


def key_shapes(config: str = "vggt-1b") -> dict[str, list[int]]:
    """{"aggregator.<key>": shape} of the aggregator built on the meta device."""
    with torch.device("meta"):
        model = Aggregator(get_config(config))
    return {PREFIX + k: list(v.shape) for k, v in model.state_dict().items()}


def summary(keys: dict[str, list[int]]) -> dict[str, int]:
    """Count of tensors and of scalar parameters."""
    params = 0
    for shape in keys.values():
        n = 1
        for d in shape:
            n *= d
        params += n
    return {"count": len(keys), "params": params}


@dataclass
class TeacherKeysConfig:
    """`sf teacher keys [vggt] [--json]`: the key -> shape map and a summary line (count, params)."""

    name: str = "vggt"  # teacher name (only 'vggt' has a key map)
    config: str = "vggt-1b"  # model size preset
    json: bool = False  # print one JSON object instead of text lines

    def __post_init__(self) -> None:
        if self.name != "vggt":
            raise SFError(f"{self.name!r} has no key map; only 'vggt' is supported")
        if self.config not in PRESETS:
            raise SFError(f"--config {self.config!r}: expected one of {sorted(PRESETS)}")

    def run(self) -> int:
        keys = key_shapes(self.config)
        info = summary(keys)
        if self.json:
            print(json.dumps({"teacher": self.name, "config": self.config, **info, "keys": keys}))
        else:
            for key, shape in keys.items():
                print(f"{key} {tuple(shape)}")
            print(f"# {info['count']} tensors, {info['params'] / 1e6:.1f}M params")
        return 0
