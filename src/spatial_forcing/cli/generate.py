"""`sf generate`: expert demonstrations of a suite -> LeRobot v3 dataset (resumable)."""

from __future__ import annotations

import argparse

from spatial_forcing.data.generate import GenerateConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="generate expert demonstrations as a LeRobot v3 dataset")
    add_dataclass_args(parser, GenerateConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = build_config(GenerateConfig, overrides_from_args(args)).run()
    tried, ok = sum(result.attempts.values()), sum(result.successes.values())
    print(f"wrote {result.episodes} episodes / {result.frames} frames to {result.root} "
          f"(expert success {ok}/{tried}, {result.seconds:.1f} s)")
    return 0
