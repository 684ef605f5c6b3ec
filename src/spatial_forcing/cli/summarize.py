"""`sf summarize DIR`: (re)write an experiment's summary.json, summary.md and summary.png; print its table."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("summarize", help="summarise an experiment directory made by `sf experiment`")
    parser.add_argument("dir", help="experiment directory (holds plan.json and runs/)")
    parser.add_argument("--reference", default=None,
                        help="variant the others are paired with (default: the plan's first); writes "
                             "summary_vs_<reference>.json/.md/.png")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.experiment.report import table
    from spatial_forcing.experiment.summary import write_summary

    print(table(write_summary(args.dir, args.reference)))
    return 0
