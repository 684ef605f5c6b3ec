"""`sf teacher keys [vggt] [--json]`: the teacher's state_dict key -> shape map, built on the meta device.

The keys carry the official checkpoint's `aggregator.` prefix, so the list can be diffed against
`model.pt` directly. Nothing is allocated: the model lives on the meta device.
"""

from __future__ import annotations

import argparse
import json

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


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of `sf teacher keys`."""
    parser.add_argument("name", nargs="?", default="vggt", help="teacher name (only 'vggt' has a key map)")
    parser.add_argument("--config", default="vggt-1b", choices=sorted(PRESETS), help="model size preset")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text lines")


def main(args: argparse.Namespace) -> int:
    """Print the key -> shape map and a summary line (count, params)."""
    if args.name != "vggt":
        raise SFError(f"teacher keys: {args.name!r} has no key map; only 'vggt' is supported")
    keys = key_shapes(args.config)
    info = summary(keys)
    if args.json:
        print(json.dumps({"teacher": args.name, "config": args.config, **info, "keys": keys}))
    else:
        for key, shape in keys.items():
            print(f"{key} {tuple(shape)}")
        print(f"# {info['count']} tensors, {info['params'] / 1e6:.1f}M params")
    return 0
