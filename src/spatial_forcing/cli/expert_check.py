"""`sf expert-check`: success rate of a suite's scripted expert over fixed initial states (no cameras).
The rollouts live in `sim.expert_check`; this module parses the options and prints the table."""

from __future__ import annotations

import argparse

from spatial_forcing.utils.int_ranges import int_ranges_type


def main(args: argparse.Namespace) -> int:
    from spatial_forcing.sim.expert_check import check_expert
    from spatial_forcing.utils.atomic import write_json

    report = check_expert(args.env, args.tasks, args.init_states, args.episodes_per_task, args.workers)
    write_json(args.out, report)
    width = max(len(name) for name in report["per_task"])
    print(f"{'task':<{width}}  success  mean_steps  max_steps")
    for name, success in report["per_task"].items():
        steps, limit = report["mean_steps_success"][name], report["max_steps"][name]
        print(f"{name:<{width}}  {success:7.2f}  {steps or float('nan'):10.1f}  {limit:9d}")
    print(f"min_success {report['min_success']:.2f} over {report['episodes']} episodes "
          f"({report['seconds']} s) -> {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("expert-check", help="success rate of a suite's scripted expert (no cameras)")
    parser.add_argument("--env", required=True, help="suite name, e.g. tabletop or libero_spatial")
    parser.add_argument("--out", required=True, help="JSON report path (written atomically)")
    parser.add_argument("--init-states", default=None, type=int_ranges_type(),
                        help="initial states A-B (both included) or a list (0-4,7); default: all")
    parser.add_argument("--episodes-per-task", type=int, default=None, help="use only the first K states")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--tasks", default=None, type=int_ranges_type(),
                        help="task ids, e.g. 1,5 or 0-3 (default: all)")
    parser.set_defaults(func=main)
