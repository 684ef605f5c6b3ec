"""`sf demo`: baseline vs Spatial Forcing on the embedded tabletop, end to end, in minutes on a CPU."""

from __future__ import annotations

import argparse

from spatial_forcing.demo import DemoConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="generate demos, train baseline and SF students, evaluate both")
    add_dataclass_args(parser, DemoConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.demo import run_demo

    cfg = build_config(DemoConfig, overrides_from_args(args))
    res = run_demo(cfg)
    print(f"\n{'policy':<18}{'success':>9}{'picked':>9}  success per task")
    for name in ("baseline", "spatial_forcing"):
        per_task = " ".join(f"{v:.2f}" for v in res[name]["per_task"].values())
        picked = res[name]["subgoal_rates"].get("picked", float("nan"))
        print(f"{name:<18}{res[name]['success_rate']:>9.3f}{picked:>9.3f}  {per_task}")
    t = res["timing_s"]
    print(f"wall time {res['wall_s']:.0f} s (data {t['data']:.0f}, training {t['train_both']:.0f}, "
          f"evaluation {t['eval_both']:.0f}); report: {cfg.out}/demo.json, plot: {cfg.out}/demo.png")
    return 0
