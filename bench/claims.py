"""Test the paper's claims at CPU scale on the tabletop: one training run per (variant, seed), same data,
same budget, evaluated on the same fixed initial states. Resumable: finished runs are skipped.

    python bench/claims.py --dataset runs/demo/data --out runs/claims [--groups main,teacher,pe,layer,norm,data]
                           [--seeds 0,1] [--steps 1500] [--jobs 2]

Groups (each adds variants; "baseline" and "sf" are shared):
  main     baseline vs SF (mini3d teacher, PE, layer ~3/4 depth, LayerNorm projector): success + convergence
  teacher  3D teacher (mini3d) vs size-matched 2D teacher (mini2d)
  pe       with vs without the 0.1-scaled sin-cos PE on the target
  layer    first vs ~3/4 depth vs last decoder layer; adaptive softmax mix over all layers
  norm     LayerNorm (reference code) vs BatchNorm (paper text) projector
  data     baseline vs SF trained on 10% of the episodes
Writes OUT/claims.json and OUT/claims.png, and prints a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from spatial_forcing.utils.atomic import save_figure

VARIANTS: dict[str, dict] = {
    "baseline": {"align.enabled": False},
    "sf": {},
    "sf_mini2d": {"align.teacher": "mini2d"},
    "sf_no_pe": {"align.use_pe": False},
    "sf_layer_first": {"align.layers": "first"},
    "sf_layer_last": {"align.layers": "last"},
    "sf_adaptive": {"align.layers": "all", "align.mode": "adaptive"},
    "sf_batchnorm": {"align.projector_norm": "batchnorm"},
    "baseline_10pct": {"align.enabled": False, "episode_fraction": 0.1},
    "sf_10pct": {"episode_fraction": 0.1},
}
GROUPS = {
    "main": ["baseline", "sf"],
    "teacher": ["sf", "sf_mini2d"],
    "pe": ["sf", "sf_no_pe"],
    "layer": ["sf_layer_first", "sf", "sf_layer_last", "sf_adaptive"],
    "norm": ["sf", "sf_batchnorm"],
    "data": ["baseline_10pct", "sf_10pct"],
}


def run_one(name: str, seed: int, args: argparse.Namespace) -> dict:
    """Train (or resume) and evaluate one variant in a subprocess with its own thread budget."""
    run_dir = Path(args.out) / f"{name}_s{seed}"
    result_path = run_dir / "eval.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    from spatial_forcing.vla.config import preset

    layers_n = preset(args.vla_preset).llm_layers
    flags = ["--dataset", args.dataset, "--out", str(run_dir), "--vla-preset", args.vla_preset,
             "--steps", str(args.steps), "--seed", str(seed), "--threads", str(args.threads),
             "--save-every", str(max(100, args.steps // 5)), "--batch-size", str(args.batch_size)]
    for key, value in VARIANTS[name].items():
        if key == "align.layers":
            value = {"first": "1", "last": str(layers_n), "all": f"1-{layers_n}"}[value]
        flags += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    subprocess.run([sys.executable, "-m", "spatial_forcing.cli.main", "train", "--resume", *flags],
                   check=True, env=env)
    subprocess.run([sys.executable, "-m", "spatial_forcing.cli.main", "eval", "tabletop", "--policy",
                    str(run_dir / "policy"), "--out", str(result_path), "--init-states", args.init_states,
                    "--image-size", str(args.image_size)], check=True, env=env)
    return json.loads(result_path.read_text())


def final_metric(run_dir: Path, key: str) -> float | None:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    vals = [r[key] for r in rows if key in r]
    return float(np.mean(vals[-5:])) if vals else None


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU-scale tests of the Spatial Forcing claims")
    parser.add_argument("--dataset", required=True, help="LeRobot v3 tabletop dataset (e.g. from sf demo)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--groups", default="main,teacher,pe,layer,norm,data")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--vla-preset", default="demo")
    parser.add_argument("--init-states", default="0-9", help="evaluation initial states per task")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (threads each = 2 / jobs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.threads = max(1, 2 // args.jobs)
    names = list(dict.fromkeys(v for g in args.groups.split(",") for v in GROUPS[g]))
    seeds = [int(s) for s in args.seeds.split(",")]
    todo = [(n, s) for n in names for s in seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = dict(zip(todo, pool.map(lambda ns: run_one(ns[0], ns[1], args), todo)))

    summary = {}
    for name in names:
        rates = [results[(name, s)]["success_rate"] for s in seeds]
        runs = [Path(args.out) / f"{name}_s{s}" for s in seeds]
        summary[name] = {"success_mean": float(np.mean(rates)), "success_per_seed": rates,
                         "success_std": float(np.std(rates)),
                         "final_action_loss": float(np.mean([final_metric(r, "action_loss") for r in runs])),
                         "overrides": VARIANTS[name]}
    out = {"summary": summary, "groups": {g: GROUPS[g] for g in args.groups.split(",")},
           "config": {k: v for k, v in vars(args).items()}}
    Path(args.out, "claims.json").write_text(json.dumps(out, indent=2) + "\n")
    _plot(Path(args.out), summary)
    print(f"{'variant':<18}{'success':>10}{'± std':>8}{'action L1':>11}")
    for name, s in summary.items():
        print(f"{name:<18}{s['success_mean']:>10.3f}{s['success_std']:>8.3f}{s['final_action_loss']:>11.4f}")


def _plot(out: Path, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.9), 4))
    ax.bar(names, [summary[n]["success_mean"] for n in names], yerr=[summary[n]["success_std"] for n in names])
    ax.set(ylabel="success rate", ylim=(0, 1), title="tabletop: Spatial Forcing variants")
    plt.xticks(rotation=30, ha="right")
    save_figure(fig, out / "claims.png")


if __name__ == "__main__":
    main()
