"""`sf expert-check`: success rate of a suite's scripted expert over fixed initial states (no cameras).
The rollouts live in `sim.expert_check`; this module parses the options and prints the table."""

from __future__ import annotations

import argparse

from spatial_forcing.sim.expert_check import ExpertCheckConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("expert-check", help="success rate of a suite's scripted expert (no cameras)")
    add_dataclass_args(parser, ExpertCheckConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = build_config(ExpertCheckConfig, overrides_from_args(args))
    report = cfg.run()
    width = max(len(name) for name in report["per_task"])
    print(f"{'task':<{width}}  success  mean_steps  max_steps")
    for name, success in report["per_task"].items():
        steps, limit = report["mean_steps_success"][name], report["max_steps"][name]
        print(f"{name:<{width}}  {success:7.2f}  {steps or float('nan'):10.1f}  {limit:9d}")
    print(f"min_success {report['min_success']:.2f} over {report['episodes']} episodes "
          f"({report['seconds']} s) -> {cfg.out}")
    return 0
