"""One (variant, seed) run of an experiment: its directory, the configs it was started with, and its state.

OUT/runs/<variant>/seed<k>/
  plan_train.json   TrainConfig fields handed to `sf train --config` (train + variant overrides + per run)
  plan_eval.json    EvalConfig fields handed to `sf eval --config` for the final evaluation
  train_config.json, checkpoints/, metrics.jsonl, evals/, policy/   written by `sf train`
  eval.json, eval.episodes.jsonl                                    written by `sf eval`
  train.log, eval.log                                               stdout + stderr of the two commands
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.experiment.compat import first_difference
from spatial_forcing.experiment.dataset import dataset_dir, val_dataset_dir
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.train.checkpoint import latest_checkpoint
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError

# where things are, not what is trained: may change if OUT is moved
LOCATION_FIELDS = ("dataset", "val_dataset", "out")
NEUTRAL_EVAL_FIELDS = ("workers", "video_dir", "videos_per_task")  # do not change an evaluation's result


@dataclass
class Run:
    variant: str  # variant name (a key of the plan's cells: its variants, or <variant>_frac<f> with fractions)
    seed: int  # run seed (TrainConfig.seed)
    dir: Path  # OUT/runs/<variant>/seed<seed>
    train: dict[str, Any]  # TrainConfig fields of `sf train --config` (plan_train.json)
    eval: dict[str, Any]  # EvalConfig fields of the final evaluation, as the plan gives them (plan_eval.json)

    @property
    def name(self) -> str:
        return f"{self.variant}/seed{self.seed}"

    @property
    def trained(self) -> bool:
        """Training finished: the exported policy exists (`sf train` writes it after the last step)."""
        return (self.dir / "policy" / "model.safetensors").is_file()

    @property
    def finished(self) -> bool:
        """Trained and evaluated (check() has confirmed eval.json belongs to this plan)."""
        return (self.dir / "eval.json").is_file()

    def eval_config(self) -> EvalConfig:
        return build_config(EvalConfig, self.eval)

    def status(self) -> str:
        """'done', 'evaluate', 'resume from step K' or 'new'."""
        if self.finished:
            return "done"
        if self.trained:
            return "evaluate"
        ckpt = latest_checkpoint(self.dir)
        return f"resume from step {int(ckpt.name.removeprefix('step_'))}" if ckpt else "new"

    def check(self) -> None:
        """Refuse a run directory whose recorded configs or eval.json differ from what the plan asks now."""
        for path, want, ignore in ((self.dir / "plan_train.json", self.train, LOCATION_FIELDS),
                                   (self.dir / "plan_eval.json", self.eval, ())):
            if path.is_file():
                have = {k: v for k, v in _read(path).items() if k not in ignore}
                diff = first_difference(have, {k: v for k, v in want.items() if k not in ignore}, path.stem)
                if diff:
                    raise SFError(f"{path} differs from the plan ({diff}); delete {self.dir} to rerun it")
        if self.finished:
            have = _read(self.dir / "eval.json").get("config", {})
            want = dataclasses.asdict(self.eval_config())
            shared = [k for k in want if k in have and k not in NEUTRAL_EVAL_FIELDS]
            diff = first_difference({k: have[k] for k in shared}, {k: want[k] for k in shared}, "config")
            if diff:
                raise SFError(f"{self.dir / 'eval.json'} was evaluated with other settings ({diff}); "
                              f"delete it and {self.dir / 'eval.episodes.jsonl'} to evaluate again")

    def write_configs(self) -> None:
        write_json(self.dir / "plan_train.json", self.train)
        write_json(self.dir / "plan_eval.json", self.eval)


def plan_runs(plan: ExperimentPlan, out_dir: str | Path, dataset: str | Path,
              val_dataset: str | Path = "") -> list[Run]:
    """Every run of the plan, seed-major (all variants of a seed before the next: pairs finish early)."""
    runs = []
    for seed in plan.seeds:
        for variant in plan.cells:
            run_dir = (Path(out_dir) / "runs" / variant / f"seed{seed}").resolve()
            train = plan.run_values(variant, seed, dataset, run_dir, val_dataset)
            runs.append(Run(variant, seed, run_dir, train, dict(plan.eval)))
    return runs


def experiment_runs(plan: ExperimentPlan, out_dir: str | Path) -> list[Run]:
    """Every run of the plan in OUT, with the locations of its datasets resolved (`plan_runs`)."""
    return plan_runs(plan, out_dir, dataset_dir(plan, out_dir), val_dataset_dir(plan, out_dir))


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SFError(f"{path}: unreadable ({str(err).splitlines()[0]}); delete it") from None
    if not isinstance(data, dict):
        raise SFError(f"{path}: expected a JSON object; delete it")
    return data
