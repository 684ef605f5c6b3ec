"""`sf probe --policy P --dataset D --out DIR`: depth and object-position probes of a frozen student."""

from __future__ import annotations

import argparse

from spatial_forcing.probe.config import ProbeConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("probe", help="depth (DPT head) and object-position probes of a student's tokens")
    add_dataclass_args(parser, ProbeConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.probe.run import run_probe

    cfg = build_config(ProbeConfig, overrides_from_args(args))
    result = run_probe(cfg)
    objects = result["objects"]["r2"]
    print(f"{cfg.policy}: layers {result['layers']}; depth probe on {result['frames']['test']} held-out frames: "
          f"AbsRel {result['abs_rel']:.3f}, delta<1.25 {result['delta1']:.3f} (mean depth map "
          f"{result['depth']['test_mean_depth']['abs_rel']:.3f}); object xyz R^2 "
          f"{'n/a' if objects is None else format(objects, '.3f')}; {cfg.out}/probe.json, probe.png")
    return 0
