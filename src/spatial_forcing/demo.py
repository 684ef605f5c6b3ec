"""The end-to-end demo: demos -> teacher targets -> baseline and SF students -> evaluation -> report.

`sf demo` is a two-variant, one-seed experiment (`experiment/`): the dataset is generated once, the SF
teacher's feature cache is built with both cores, then the baseline and SF students train side by side (one
thread each; same seed, data and budget, the same machine conditions), each evaluated on fixed initial states
during training (the success-vs-steps curve) and at the end (>= 50 episodes).
OUT/demo.json and OUT/demo.png summarise them; OUT/summary.* and OUT/runs/ hold everything else.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.experiment.runner import run_experiment
from spatial_forcing.utils.atomic import save_figure, write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)
RUNS = ("baseline", "spatial_forcing")
ALIGN_KEYS = ("align_cos", "position_only_cos", "residual_cos")


@dataclass
class DemoConfig:
    out: str = "runs/demo"  # output directory (data, runs, demo.json, demo.png)
    env: str = "tabletop"  # suite: demonstrations use random seeded layouts, evaluation its fixed initial states
    # Default task 9 (grasp the one block and lift it): the rung on which a baseline learns within the demo's
    # budget (docs/regime.md section 8); task 8 (place it on the plate) needs more steps than fit in 15 min
    # (results/rung1_sf) and results/long_posmean compares on the relation tasks 0-3.
    tasks: list[int] = field(default_factory=lambda: [9])  # task ids (9: lift; 8: pick and place; 0-3: relations)
    episodes_per_task: int = 120  # scripted demonstrations per task
    action_noise: float = 0.5  # DART pushes (action units) while recording demos; labels stay the expert's
    image_size: int = 64  # camera resolution for data and evaluation
    vla_preset: str = "demo"  # student size preset
    # Default: one decoder slot per chunk step (7x fewer action tokens than OFT's per-scalar slots, so more
    # steps fit in the budget); {} = the OpenVLA-OFT layout.
    vla: dict[str, Any] = field(default_factory=lambda: {"action_slots": "per_step"})  # preset overrides
    steps: int = 2000  # optimizer steps for each of the two students
    batch_size: int = 32  # samples per step
    lr: float = 5e-4  # peak learning rate
    teacher: str = "mini3d"  # SF teacher (registry name)
    teacher_weights: str = ""  # teacher weights file; "" = the shipped weights, "random" = untrained (smoke tests)
    # Default position_mean (the dataset's per-position mean removed): the paper's raw target ("none") is
    # nearly constant across samples at this grid (docs/regime.md section 3).
    target_norm: str = "position_mean"  # SF target option: none | token_mean | position_mean
    curve_every: int = 500  # steps between evaluations during training (the success-vs-steps curve; 0 = off)
    curve_init_states: list[int] = field(default_factory=lambda: list(range(25, 35)))  # states of those
    # Default: all 50 fixed states of the task (25-44 were looked at while choosing the lift rung,
    # docs/regime.md section 8).
    eval_init_states: list[int] = field(default_factory=lambda: list(range(50)))  # final evaluation, per task
    seed: int = 0  # same seed for both students

    def plan(self) -> ExperimentPlan:
        """The experiment this demo runs."""
        train = {"vla_preset": self.vla_preset, "vla": dict(self.vla), "steps": self.steps,
                 "batch_size": self.batch_size, "lr": self.lr, "save_every": max(100, self.steps // 4),
                 "eval_every": self.curve_every, "eval_init_states": list(self.curve_init_states)}
        sf = {"align": {"enabled": True, "teacher": self.teacher, "target_norm": self.target_norm}}
        if self.teacher_weights:
            sf["teacher_weights"] = self.teacher_weights
        generate = {"env": self.env, "episodes_per_task": self.episodes_per_task, "image_size": self.image_size,
                    "seed": self.seed, "action_noise": self.action_noise, "workers": 2,
                    "record_geometry": self.teacher == "oracle3d"}
        if self.tasks:
            generate["tasks"] = list(self.tasks)
        ev = {"env": self.env, "init_states": list(self.eval_init_states), "image_size": self.image_size}
        if self.tasks:
            ev["tasks"] = list(self.tasks)
        return ExperimentPlan.from_dict({
            "name": "sf demo", "dataset": {"generate": generate}, "train": train,
            "variants": {"baseline": {"align": {"enabled": False}}, "spatial_forcing": sf},
            "seeds": [self.seed], "eval": ev}, where="sf demo")


def run_demo(cfg: DemoConfig) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    outcome = run_experiment(cfg.plan(), out, jobs=2, overlap_caches=False)
    if outcome.failed:
        name, error = next(iter(outcome.failed.items()))
        raise SFError(f"run {name} failed: {error.splitlines()[0]} (see {out}/runs/{name}/)")
    summary = outcome.summary
    results: dict[str, Any] = {}
    for name in RUNS:
        v = summary["variants"][name]
        results[name] = {
            "success_rate": v["success"]["mean"], "per_task": v["per_task"], "subgoal_rates": v["subgoals"],
            "episodes": summary["eval"]["init_states"] and len(summary["eval"]["init_states"]) * len(v["per_task"]),
            "steps": cfg.steps, "final_action_loss": v["final_action_loss"]["mean"],
            "curve": summary["curves"]["success"][name],
            **{k: (v["align"][k]["mean"] if v["align"] else None) for k in ALIGN_KEYS}}
    results["target"] = {"teacher": cfg.teacher, "teacher_weights": cfg.teacher_weights or "shipped",
                         "target_norm": cfg.target_norm, "teacher_layer": -1, "pe": True}
    results["wall_s"] = round(time.time() - t0, 1)
    results["config"] = dataclasses.asdict(cfg)
    write_json(out / "demo.json", results)
    _plot(out, summary, results)
    return results


def _plot(out: Path, summary: dict, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"baseline": "tab:blue", "spatial_forcing": "tab:orange"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in RUNS:
        curve = summary["curves"]["success"][name]
        if curve and curve.get("steps"):
            axes[0].plot(curve["steps"], curve["mean"], "o-", color=colors[name], label=name)
    axes[0].set(title="success during training (curve states)", xlabel="step", ylim=(-0.02, 1.02))
    align = summary["curves"]["align"].get("spatial_forcing", {})
    for key, style in zip(ALIGN_KEYS, ("-", "--", ":")):
        band = align.get(key)
        if band and band.get("steps"):
            axes[1].plot(band["steps"], band["mean"], style, color="tab:orange", label=key)
    axes[1].set(title=f"SF target: {results['target']['teacher']}, norm {results['target']['target_norm']}",
                xlabel="step")
    labels = ["success", *results["baseline"]["subgoal_rates"]]
    for i, name in enumerate(RUNS):
        values = [results[name]["success_rate"], *results[name]["subgoal_rates"].values()]
        axes[2].bar([j + 0.4 * i for j in range(len(values))], values, width=0.4, color=colors[name], label=name)
    axes[2].set_xticks([j + 0.2 for j in range(len(labels))], labels)
    axes[2].set(title=f"final evaluation ({results['baseline']['episodes']} episodes each)", ylim=(0, 1))
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, out / "demo.png")
