"""`sf report DIR [DIR ...] --out REPORT.md`: the paper's claims, each with our numbers and a verdict."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


@dataclass
class ReportConfig:
    """`sf report`: one markdown section per claim of the paper, from experiment and probe outputs."""

    dirs: list[str]  # `sf experiment` output directories (and directories holding probe.json files)
    out: str = "REPORT.md"  # the markdown report; REPORT.json and REPORT_figures/ are written beside it
    measured_only: bool = False  # leave out claims no directory answers (a report on one experiment)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="the paper's claims: paper figure, ours, verdict, figures")
    add_dataclass_args(parser, ReportConfig, positional=("dirs",))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.experiment.claim_report import write_report

    cfg = build_config(ReportConfig, overrides_from_args(args))
    found = write_report(cfg.dirs, cfg.out, cfg.measured_only)
    measured = [c for c, m in found.items() if m]
    print(f"{cfg.out}: {len(found)} claims, {len(measured)} measured ({', '.join(measured) or 'none'})")
    return 0
