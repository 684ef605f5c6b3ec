"""`sf eval ENV --policy DIR`: closed-loop success over fixed initial states (resumable)."""

from __future__ import annotations

import argparse
import json

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate an exported policy in simulation")
    parser.add_argument("env", help="suite: tabletop, libero_spatial, libero_object, ... (or 'libero' with --suite)")
    parser.add_argument("--policy", required=True, help="exported policy directory (run_dir/policy)")
    parser.add_argument("--out", required=True, help="results JSON (episodes are logged beside it for resume)")
    parser.add_argument("--preset", default="", help="LIBERO protocol preset: full | reduced")
    parser.add_argument("--suite", default="libero_spatial", help="LIBERO suite when ENV is 'libero'")
    add_dataclass_args(parser, EvalConfig, skip=("env",))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.eval.policy import LoadedPolicy
    from spatial_forcing.eval.rollout import evaluate

    values = overrides_from_args(args)
    policy_dir, out, preset, suite = (values.pop(k) for k in ("policy", "out", "preset", "suite"))
    env = values.pop("env")
    if env == "libero":
        from spatial_forcing.sim.libero.protocol import eval_config

        base = eval_config(suite, preset or "reduced")
        values = {**base, **values}
    else:
        values["env"] = env
    cfg = build_config(EvalConfig, values)
    policy = LoadedPolicy.load(policy_dir)
    result = evaluate(policy.act, cfg, out, label=str(policy_dir))
    print(json.dumps({"success_rate": result["success_rate"], "per_task": result["per_task"]}, indent=2))
    return 0
