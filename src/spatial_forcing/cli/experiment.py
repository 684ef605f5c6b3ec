"""`sf experiment PLAN.json --out DIR`: variants x seeds of training runs, evaluated and summarised."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("experiment", help="run a paired experiment (variants x seeds)")
    parser.add_argument("plan", help="plan JSON (see configs/experiments/tiny.json and docs/architecture.md)")
    parser.add_argument("--out", required=True, help="experiment directory (plan.json, runs/, ...)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time, each with max(1, 2 // jobs) threads (default 1)")
    parser.add_argument("--only", default=None, help="comma-separated variants to run now (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, write nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.experiment.plan import load_plan
    from spatial_forcing.experiment.report import table
    from spatial_forcing.experiment.runner import run_experiment

    plan = load_plan(args.plan)
    only = [v.strip() for v in args.only.split(",") if v.strip()] if args.only else None
    outcome = run_experiment(plan, args.out, jobs=args.jobs, only=only, dry_run=args.dry_run)
    if args.dry_run:
        return 0
    print(table(outcome.summary))
    print(f"{len(outcome.executed)} run(s) executed, {outcome.runs - len(outcome.executed)} already done or "
          f"not selected; summary: {args.out}/summary.json, summary.md, summary.png")
    if outcome.failed:
        print(f"FAILED: {', '.join(outcome.failed)} (see their train.log / eval.log)")
        return 1
    return 0
