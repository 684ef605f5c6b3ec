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
    t = res["target"]
    print(f"\nSF target: teacher {t['teacher']} ({t['teacher_weights']}), last layer, PE 0.1, "
          f"target_norm {t['target_norm']}; {res['baseline']['episodes']} evaluation episodes per student")
    print(f"{'policy':<18}{'success':>9}{'picked':>9}{'align cos':>11}{'pos-only':>10}{'residual':>10}"
          "  success per task")
    for name in ("baseline", "spatial_forcing"):
        r = res[name]
        cosines = "".join(f"{r[k]:>10.3f}" if r[k] is not None else f"{'-':>10}"
                          for k in ("align_cos", "position_only_cos", "residual_cos"))
        per_task = " ".join(f"{v:.2f}" for v in r["per_task"].values())
        picked = r["subgoal_rates"].get("picked", float("nan"))
        print(f"{name:<18}{r['success_rate']:>9.3f}{picked:>9.3f} {cosines}  {per_task}")
    print(f"wall time {res['wall_s']:.0f} s; report: {cfg.out}/demo.json, plot: {cfg.out}/demo.png, "
          f"runs and summary: {cfg.out}/runs, {cfg.out}/summary.md")
    return 0
