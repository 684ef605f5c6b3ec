"""`sf export --lerobot SRC --out DIR`: an SF-trained LeRobot checkpoint as a plain one of its base type."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args
from spatial_forcing.utils.errors import SFError


@dataclass
class ExportConfig:
    """`sf export`: what to export and where."""

    src: str  # checkpoint: a LeRobot pretrained_model directory (or the checkpoint directory holding one)
    out: str  # directory to write (replaced atomically)
    lerobot: bool = False  # SF LeRobot checkpoint (smolvla_sf, sf) -> the plain one of its base policy type


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="export an SF-trained LeRobot checkpoint as a stock one")
    add_dataclass_args(parser, ExportConfig, positional=("src",))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.integrations.lerobot_export import export_lerobot

    cfg = build_config(ExportConfig, overrides_from_args(args))
    if not cfg.lerobot:
        raise SFError("--lerobot: the only export today is of LeRobot checkpoints; pass --lerobot")
    print(export_lerobot(cfg.src, cfg.out))
    return 0
