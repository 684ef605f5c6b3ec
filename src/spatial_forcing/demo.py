"""The end-to-end demo: demos -> teacher targets -> baseline and SF students -> evaluation -> report.

The two students train side by side in two processes with one thread each (the fair and fastest way to use
two cores: both see the same machine conditions), then both are evaluated side by side the same way.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from spatial_forcing.utils.atomic import save_figure, write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)
RUNS = ("baseline", "spatial_forcing")


@dataclass
class DemoConfig:
    out: str = "runs/demo"  # output directory (dataset, runs, demo.json, demo.png)
    env: str = "tabletop"  # suite: demonstrations use random seeded layouts, evaluation its fixed initial states
    tasks: list[int] = field(default_factory=lambda: [0, 1, 2, 3])  # task ids ([] = all): left/right/closest/farthest
    episodes_per_task: int = 30  # scripted demonstrations per task
    image_size: int = 64  # camera resolution for data and evaluation
    vla_preset: str = "demo"  # student size preset
    steps: int = 600  # optimizer steps for each of the two students
    batch_size: int = 32  # samples per step
    teacher: str = "mini3d"  # SF teacher (registry name)
    teacher_weights: str = ""  # teacher weights file; "" = the shipped weights, "random" = untrained (smoke tests)
    eval_init_states: list[int] = field(default_factory=lambda: list(range(5)))  # fixed initial states per task
    seed: int = 0  # same seed for both students


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spatial_forcing.cli.main", *args]


def _run_pair(commands: dict[str, list[str]], out: Path, what: str) -> None:
    """Run one command per student concurrently (one thread each); logs go to OUT/<name>/<what>.log."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = {}
    for name, cmd in commands.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        log_file = open(out / name / f"{what}.log", "a")
        procs[name] = (subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env), log_file)
    log.info("%s: %s running side by side (logs in %s/<run>/%s.log)", what, " and ".join(commands), out, what)
    failed = []
    for name, (proc, log_file) in procs.items():
        if proc.wait() != 0:
            failed.append(name)
        log_file.close()
    if failed:
        tail = (out / failed[0] / f"{what}.log").read_text().strip().splitlines()[-1:]
        raise SFError(f"{what} of {failed} failed: {tail[0] if tail else 'no output'} (see {out}/{failed[0]}/{what}.log)")


def run_demo(cfg: DemoConfig) -> dict:
    from spatial_forcing.data.generate import generate_dataset

    t0 = time.time()
    out = Path(cfg.out)
    dataset = out / "data"
    if not (dataset / "meta" / "info.json").exists():
        generate_dataset(cfg.env, dataset, episodes_per_task=cfg.episodes_per_task, image_size=cfg.image_size,
                         seed=cfg.seed, tasks=cfg.tasks or None)
    t_data = time.time()
    common = ["--dataset", str(dataset), "--vla-preset", cfg.vla_preset, "--steps", str(cfg.steps),
              "--batch-size", str(cfg.batch_size), "--seed", str(cfg.seed), "--threads", "1",
              "--save-every", str(max(100, cfg.steps // 4)), "--resume"]
    sf_flags = ["--align.teacher", cfg.teacher] + (["--teacher-weights", cfg.teacher_weights]
                                                    if cfg.teacher_weights else [])
    _run_pair({"baseline": _cli("train", "--out", str(out / "baseline"), "--align.enabled", "false", *common),
               "spatial_forcing": _cli("train", "--out", str(out / "spatial_forcing"), *common, *sf_flags)},
              out, "train")
    t_train = time.time()
    states = ",".join(map(str, cfg.eval_init_states))
    tasks = ["--tasks", ",".join(map(str, cfg.tasks))] if cfg.tasks else []
    _run_pair({name: _cli("eval", cfg.env, "--policy", str(out / name / "policy"), "--out",
                          str(out / name / "eval.json"), "--init-states", states, "--image-size",
                          str(cfg.image_size), "--seed", str(cfg.seed), *tasks) for name in RUNS},
              out, "eval")
    results: dict = {}
    for name in RUNS:
        res = json.loads((out / name / "eval.json").read_text())
        results[name] = {"success_rate": res["success_rate"], "per_task": res["per_task"],
                         "subgoal_rates": res["subgoal_rates"], "steps": cfg.steps,
                         "final_action_loss": _last_metric(out / name, "action_loss"),
                         "final_align_cos": _last_metric(out / name, "align_cos")}
    results["timing_s"] = {"data": round(t_data - t0, 1), "train_both": round(t_train - t_data, 1),
                           "eval_both": round(time.time() - t_train, 1)}
    results["wall_s"] = round(time.time() - t0, 1)
    results["config"] = dataclasses.asdict(cfg)
    write_json(out / "demo.json", results)
    _plot(out, results)
    return results


def _last_metric(run_dir: Path, key: str) -> float | None:
    """Mean of the last 5 logged values of `key` (smooths the per-batch noise)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    values = [r[key] for r in rows if key in r][-5:]
    return round(sum(values) / len(values), 5) if values else None


def _plot(out: Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, color in zip(RUNS, ("tab:blue", "tab:orange")):
        rows = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines() if line]
        axes[0].plot([r["step"] for r in rows], [r["action_loss"] for r in rows], label=name, color=color)
        if name == "spatial_forcing":
            axes[1].plot([r["step"] for r in rows], [r["align_cos"] for r in rows], color=color, label=name)
    labels = ["success"] + [f"{k} (sub-goal)" for k in results["baseline"]["subgoal_rates"]]
    for i, (name, color) in enumerate(zip(RUNS, ("tab:blue", "tab:orange"))):
        values = [results[name]["success_rate"], *results[name]["subgoal_rates"].values()]
        axes[2].bar([j + 0.4 * i for j in range(len(values))], values, width=0.4, label=name, color=color)
    axes[2].set_xticks([j + 0.2 for j in range(len(labels))], labels)
    axes[0].set(title="action loss (L1, normalised)", xlabel="step", yscale="log")
    axes[1].set(title="alignment cosine (SF)", xlabel="step")
    axes[2].set(title=f"evaluation after {results['baseline']['steps']} steps", ylim=(0, 1))
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, out / "demo.png")
