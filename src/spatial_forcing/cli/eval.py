"""`sf eval ENV --policy DIR`: closed-loop success over fixed initial states (resumable)."""

from __future__ import annotations

import argparse
import json

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args
from spatial_forcing.utils.json_file import read_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate an exported policy in simulation")
    parser.add_argument("env", help="suite: tabletop, libero_spatial, libero_object, ... (or 'libero' with --suite)")
    parser.add_argument("--policy", required=True,
                        help="exported policy directory (run_dir/policy), or a LeRobot checkpoint "
                             "(pretrained_model)")
    parser.add_argument("--out", required=True, help="results JSON (episodes are logged beside it for resume)")
    parser.add_argument("--preset", default="", help="LIBERO protocol preset: full | reduced")
    parser.add_argument("--suite", default="libero_spatial", help="LIBERO suite when ENV is 'libero'")
    parser.add_argument("--lerobot-max-steps", action="store_true",
                        help="LIBERO: LeRobot's step limits (spatial 280) instead of OpenVLA-OFT's (spatial 220)")
    parser.add_argument("--config", dest="config_file", default=None,
                        help="JSON file of EvalConfig fields; options given on the command line override it "
                             "(ENV always sets env)")
    add_dataclass_args(parser, EvalConfig, skip=("env",))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.eval.episode_log import policy_digest
    from spatial_forcing.eval.policy import LoadedPolicy
    from spatial_forcing.eval.rollout import evaluate

    values = overrides_from_args(args)
    policy_dir, out, preset, suite = (values.pop(k) for k in ("policy", "out", "preset", "suite"))
    lerobot_steps = values.pop("lerobot_max_steps")
    env = values.pop("env")
    config_file = values.pop("config_file", None)
    if config_file:
        base = read_json(config_file)
        if not isinstance(base, dict):
            raise SFError(f"{config_file}: expected a JSON object of EvalConfig fields, "
                          f"got {type(base).__name__}")
        values = {**{k: v for k, v in base.items() if k != "env"}, **values}
    if env == "libero":
        values = {**libero_eval_values(suite, preset or "reduced", lerobot_steps), **values}
    else:
        values["env"] = env
    cfg = build_config(EvalConfig, values)
    lerobot_act = lerobot_action_fn(policy_dir, cfg.workers)
    if lerobot_act is not None:
        act = lerobot_act
    else:
        policy = LoadedPolicy.load(policy_dir)  # also checks the directory before any worker starts
        act = policy_dir if cfg.workers > 1 else policy.act
    # the episodes log is keyed on the policy's files, also when its loaded action function is passed
    result = evaluate(act, cfg, out, label=str(policy_dir), policy_key=policy_digest(policy_dir))
    print(json.dumps({"success_rate": result["success_rate"], "per_task": result["per_task"]}, indent=2))
    return 0


def lerobot_action_fn(policy_dir: str, workers: int):
    """The action function of a LeRobot checkpoint (through the lerobot_policy_sf plugin), or None when
    `policy_dir` is one of our exported policies."""
    from pathlib import Path

    path = Path(policy_dir)
    if not ((path / "config.json").is_file() or (path / "pretrained_model" / "config.json").is_file()):
        return None  # ours hold vla.json (vla.export); LeRobot's config.json
    try:
        from lerobot_policy_sf.act_fn import LeRobotActFn
    except ImportError:
        raise SFError(f"--policy {policy_dir}: a LeRobot checkpoint needs lerobot and the lerobot_policy_sf "
                      "plugin: bash scripts/setup.sh lerobot") from None
    if workers > 1:
        raise SFError("--workers: a LeRobot checkpoint is evaluated in this process; use --workers 1")
    return LeRobotActFn(policy_dir)


def libero_eval_values(suite: str, preset: str, lerobot_max_steps: bool = False) -> dict:
    """EvalConfig fields of a LIBERO protocol preset (sim.libero.protocol.PRESETS)."""
    from spatial_forcing.sim.libero.protocol import PRESETS

    if preset not in PRESETS:
        raise SFError(f"--preset {preset!r}: expected one of {sorted(PRESETS)}")
    proto = PRESETS[preset].for_suite(suite)
    if lerobot_max_steps:
        proto = proto.with_lerobot_max_steps()
    if suite not in proto.max_steps_table:
        raise SFError(f"--suite {suite!r}: expected one of {sorted(proto.max_steps_table)}")
    return {"env": suite, "tasks": list(proto.task_ids), "init_states": list(range(proto.num_trials_per_task)),
            "num_steps_wait": proto.num_steps_wait, "wait_action": list(proto.dummy_action),
            "max_steps": proto.max_steps, "seed": proto.seed, "image_size": proto.camera_resolution}
