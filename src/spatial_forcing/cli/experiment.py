"""`sf experiment PLAN.json --out DIR`: variants x seeds of training runs, evaluated and summarised."""

from __future__ import annotations

import argparse
import signal
from contextlib import contextmanager
from dataclasses import dataclass, field

from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


@dataclass
class ExperimentCommandConfig:
    """`sf experiment`: run the plan's missing runs, then summarise all of them."""

    plan: str  # plan JSON (see configs/experiments/tiny.json and docs/architecture.md)
    out: str  # experiment directory (plan.json, runs/, ...)
    jobs: int = 1  # runs at a time, each with max(1, 2 // jobs) threads
    only: list[str] = field(default_factory=list)  # variants to run now, e.g. baseline,sf; [] = all
    dry_run: bool = False  # print what would run, write nothing
    # record: commit it, and the same command on another machine restores the recorded runs into --out
    # instead of running them again (experiment/record.py)
    record: str = ""  # directory kept with the runs' configs, metrics, evaluations (results/NAME); ""=none
    # train_only: when evaluations outlast a session, train (and --record) every policy while the data is
    # there; the command without it evaluates them later without the data
    train_only: bool = False  # train the selected runs, evaluate none


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("experiment", help="run a paired experiment (variants x seeds)")
    add_dataclass_args(parser, ExperimentCommandConfig, positional=("plan",))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.experiment.plan import load_plan
    from spatial_forcing.experiment.report import table
    from spatial_forcing.experiment.runner import run_experiment

    cfg = build_config(ExperimentCommandConfig, overrides_from_args(args))
    with _stopped_like_ctrl_c():
        outcome = run_experiment(load_plan(cfg.plan), cfg.out, jobs=cfg.jobs, only=cfg.only or None,
                                 dry_run=cfg.dry_run, record=cfg.record or None, train_only=cfg.train_only)
    if cfg.dry_run:
        return 0
    print(table(outcome.summary))
    print(f"{len(outcome.executed)} run(s) executed, {outcome.runs - len(outcome.executed)} already done or "
          f"not selected; summary: {cfg.out}/summary.json, summary.md, summary.png")
    if outcome.failed:
        print(f"FAILED: {', '.join(outcome.failed)} (see their train.log / eval.log)")
        return 1
    return 0


@contextmanager
def _stopped_like_ctrl_c():
    """SIGTERM and SIGHUP (a closed terminal, an ended session) stop the runner as Ctrl-C does: running
    commands terminated, the record written."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
