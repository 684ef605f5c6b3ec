"""`sf train`: train one policy (baseline or with Spatial Forcing) on a LeRobot v3 dataset.

The same command runs in each process of `torchrun --nproc_per_node N -m spatial_forcing.cli.main train ...`
or `accelerate launch --multi_gpu --num_processes N -m spatial_forcing.cli.main train ...`
(train/distributed.py)."""

from __future__ import annotations

import argparse

from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.utils.merge import deep_merge


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train a policy; --align.enabled false for the baseline")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its latest valid checkpoint; its config must be "
                             "unchanged except threads and the logging, saving, validation and evaluation "
                             "options")
    parser.add_argument("--config", dest="config_file", default=None,
                        help="JSON file of TrainConfig fields (e.g. configs/libero_spatial.json); "
                             "options given on the command line override it")
    add_dataclass_args(parser, TrainConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.train.distributed import process_group
    from spatial_forcing.train.loop import train

    values = overrides_from_args(args)
    resume = values.pop("resume", False)
    config_file = values.pop("config_file", None)
    if config_file:
        base = read_json(config_file)
        if not isinstance(base, dict):
            raise SFError(f"{config_file}: expected a JSON object of TrainConfig fields, got {type(base).__name__}")
        values = deep_merge(base, values)
    if not values.get("dataset"):
        raise SFError("--dataset is required (a LeRobotDataset v3 directory)")
    try:
        cfg = build_config(TrainConfig, values)
    except ValueError as err:
        raise SFError(str(err)) from None
    with process_group() as ranks:  # a no-op without a launcher
        policy_dir = train(cfg, resume=resume)
    if ranks.main:
        print(f"exported policy: {policy_dir}")
    return 0
