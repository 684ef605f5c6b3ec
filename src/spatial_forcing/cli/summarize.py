"""`sf summarize DIR`: (re)write an experiment's summary.json, summary.md and summary.png; print its table."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


@dataclass
class SummarizeConfig:
    """`sf summarize`: the summary of an experiment directory made by `sf experiment`."""

    dir: str  # experiment directory (holds plan.json and runs/)
    # writes summary_vs_<reference>.json/.md/.png
    reference: str = ""  # variant the others are paired with; "" = the plan's first


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("summarize", help="summarise an experiment directory made by `sf experiment`")
    add_dataclass_args(parser, SummarizeConfig, positional=("dir",))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.experiment.report import table
    from spatial_forcing.experiment.summary import write_summary

    cfg = build_config(SummarizeConfig, overrides_from_args(args))
    print(table(write_summary(cfg.dir, cfg.reference or None)))
    return 0
