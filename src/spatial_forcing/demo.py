"""The end-to-end demo: demos -> teacher targets -> baseline and SF students -> evaluation -> report."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.eval.rollout import EvalConfig, evaluate
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.atomic import write_json

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    out: str = "runs/demo"  # output directory (dataset, runs, demo.json, demo.png)
    env: str = "tabletop"  # suite: demonstrations use random seeded layouts, evaluation its fixed initial states
    tasks: list[int] = field(default_factory=list)  # task ids to use; [] = all tasks of the suite
    episodes_per_task: int = 40  # scripted demonstrations per task
    image_size: int = 64  # camera resolution for data and evaluation
    vla_preset: str = "demo"  # student size preset
    steps: int = 1500  # optimizer steps for each of the two students
    batch_size: int = 32  # samples per step
    teacher: str = "mini3d"  # SF teacher (registry name)
    teacher_weights: str = ""  # teacher weights file; "" = the shipped weights, "random" = untrained (smoke tests)
    eval_init_states: list[int] = field(default_factory=lambda: list(range(10)))  # fixed initial states per task
    curve_every: int = 0  # steps between success probes for the curve plot (0 = only at the end)
    curve_init_states: list[int] = field(default_factory=lambda: [0, 1, 2])  # initial states used by the probes
    seed: int = 0  # same seed for both students
    threads: int = 2  # torch threads


def run_demo(cfg: DemoConfig) -> dict:
    from spatial_forcing.data.generate import generate_dataset

    t0 = time.time()
    out = Path(cfg.out)
    dataset = out / "data"
    if not (dataset / "meta" / "info.json").exists():
        generate_dataset(cfg.env, dataset, episodes_per_task=cfg.episodes_per_task, image_size=cfg.image_size,
                         seed=cfg.seed, tasks=cfg.tasks or None)
    results: dict = {}
    for name, enabled in (("baseline", False), ("spatial_forcing", True)):
        run_dir = out / name
        tcfg = TrainConfig(dataset=str(dataset), out=str(run_dir), vla_preset=cfg.vla_preset,
                           align=AlignConfig(enabled=enabled, teacher=cfg.teacher), steps=cfg.steps,
                           teacher_weights=cfg.teacher_weights,
                           batch_size=cfg.batch_size, seed=cfg.seed, threads=cfg.threads,
                           save_every=max(100, cfg.steps // 4), eval_curve_every=cfg.curve_every)
        t_train = time.time()
        policy_dir = _train(tcfg, cfg, run_dir)
        train_s = time.time() - t_train
        policy = LoadedPolicy.load(policy_dir)
        ecfg = EvalConfig(env=cfg.env, tasks=cfg.tasks, init_states=cfg.eval_init_states,
                          image_size=cfg.image_size, seed=cfg.seed)
        res = evaluate(policy.act, ecfg, run_dir / "eval.json", label=name)
        results[name] = {"success_rate": res["success_rate"], "per_task": res["per_task"],
                         "subgoal_rates": res["subgoal_rates"],
                         "train_s": round(train_s, 1), "steps": cfg.steps,
                         "final_action_loss": _last_metric(run_dir, "action_loss")}
    results["wall_s"] = round(time.time() - t0, 1)
    results["config"] = dataclasses.asdict(cfg)
    write_json(out / "demo.json", results)
    _plot(out, results)
    return results


def _train(tcfg: TrainConfig, cfg: DemoConfig, run_dir: Path) -> Path:
    from spatial_forcing.train.loop import train

    probe = None
    if cfg.curve_every:
        ecfg = EvalConfig(env=cfg.env, tasks=cfg.tasks, init_states=cfg.curve_init_states,
                          image_size=cfg.image_size, seed=cfg.seed)

        def probe(step, policy):
            act = _act_fn(policy, run_dir)
            res = evaluate(act, ecfg, run_dir / "curve" / f"step_{step:06d}.json", label=f"probe@{step}")
            return {"success_rate": res["success_rate"]}
    return train(tcfg, resume=True, on_eval=probe)


def _act_fn(policy, run_dir: Path):
    """act() for the in-training student, with the dataset's normaliser, exactly as the exported policy."""
    from spatial_forcing.data.normalize import Normalizer
    from spatial_forcing.data.reader import LeRobotDatasetReader

    cfg = json.loads((run_dir / "train_config.json").read_text())
    normalizer = Normalizer(LeRobotDatasetReader(cfg["dataset"]).stats)
    return LoadedPolicy(policy, normalizer, cfg["cameras"], crop_scale=cfg.get("crop_scale", 1.0)).act


def _last_metric(run_dir: Path, key: str) -> float | None:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return None
    values = [json.loads(line).get(key) for line in path.read_text().splitlines() if line]
    values = [v for v in values if v is not None]
    return values[-1] if values else None


def _plot(out: Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, color in (("baseline", "tab:blue"), ("spatial_forcing", "tab:orange")):
        rows = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines() if line]
        steps = [r["step"] for r in rows if "action_loss" in r]
        axes[0].plot(steps, [r["action_loss"] for r in rows if "action_loss" in r], label=name, color=color)
        if name == "spatial_forcing":
            axes[1].plot(steps, [r["align_cos"] for r in rows if "align_cos" in r], color=color, label=name)
        curve = [(r["step"], r["success_rate"]) for r in rows if "success_rate" in r]
        curve.append((results[name]["steps"], results[name]["success_rate"]))
        axes[2].plot(*zip(*sorted(set(curve))), marker="o", label=name, color=color)
    axes[0].set(title="action loss (L1, normalised)", xlabel="step", yscale="log")
    axes[1].set(title="alignment cosine (SF)", xlabel="step")
    axes[2].set(title="success rate", xlabel="step", ylim=(0, 1))
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "demo.png", dpi=100)
    plt.close(fig)
