"""A small valid experiment plan, and a fake run executor that writes what `sf train` + `sf eval` would."""

from __future__ import annotations

import dataclasses
import json

from spatial_forcing.experiment.runs import Run


def make_plan_dict(dataset: str = "data") -> dict:
    """A small valid plan (as parsed JSON): baseline vs SF with online targets, three seeds."""
    return {
        "name": "unit",
        "dataset": {"path": dataset},
        "train": {"vla_preset": "tiny", "steps": 6, "batch_size": 4, "align": {"teacher": "mini3d"}},
        "variants": {"baseline": {"align": {"enabled": False}},
                     "sf": {"targets": "online", "teacher_weights": "random", "align": {"alpha": 0.25}}},
        "seeds": [0, 1, 2],
        "eval": {"tasks": [0, 1], "init_states": [0], "image_size": 32},
    }


SUCCESS = {"baseline": [0.2, 0.4, 0.3], "sf": [0.5, 0.5, 0.6]}  # final success per seed 0, 1, 2
CURVES = {"baseline": {2: 0.0, 4: 0.1, 6: 0.3}, "sf": {2: 0.1, 4: 0.3, 6: 0.5}}  # eval/success, every seed


class FakeExecutor:
    """Stands in for `execute_run`: writes what `sf train` + `sf eval` would, records the calls; trains only a
    run without an exported policy (`trained` lists those); a run of `interrupt` is interrupted (as by Ctrl-C)
    once its policy is exported and 2 episodes of its evaluation are logged; `logged` holds the episodes each
    call found logged already."""

    def __init__(self, fail: set[str] = frozenset(), interrupt: set[str] = frozenset()):
        self.calls: list[tuple[str, int]] = []
        self.trained: list[str] = []
        self.logged: dict[str, int] = {}
        self.fail = fail
        self.interrupt = interrupt

    def __call__(self, run: Run, threads: int, after_training=None, evaluate: bool = True) -> str | None:
        self.calls.append((run.name, threads))
        episodes = run.dir / "eval.episodes.jsonl"
        self.logged[run.name] = len(episodes.read_text().splitlines()) if episodes.is_file() else 0
        run.dir.mkdir(parents=True, exist_ok=True)
        run.write_configs()
        if run.name in self.fail:
            return "`sf train` exited with code 1; last lines of train.log:\n    boom"
        if not run.trained:
            self._train(run)
            if after_training is not None:
                after_training(run)
        if run.name in self.interrupt:
            episodes.write_text('{"episode": 0}\n{"episode": 1}\n')
            raise KeyboardInterrupt
        if not evaluate:
            return None
        value = SUCCESS[run.variant][run.seed % 3]
        result = {"success_rate": value, "per_task": {"left_of_cylinder": value, "right_of_cylinder": value},
                  "subgoal_rates": {"picked": value / 2}, "config": dataclasses.asdict(run.eval_config()),
                  "wall_s_this_run": 30.0 + run.seed}
        if run.variant == "baseline":  # a log with per-episode times (over every invocation)
            result["episode_seconds"] = 60.0 + run.seed
        (run.dir / "eval.json").write_text(json.dumps(result))
        return None

    def _train(self, run: Run) -> None:
        self.trained.append(run.name)
        (run.dir / "checkpoints").mkdir(exist_ok=True)  # what a record leaves behind
        (run.dir / "policy").mkdir(exist_ok=True)
        (run.dir / "policy" / "model.safetensors").write_bytes(b"weights")
        sf = run.variant == "sf"
        rows = [{"step": s, "action_loss": 1.0 / s, **({"step_s": s / 2} if s % 2 == 0 else {}),
                 **({"align_cos": 0.5, "position_only_cos": 0.9, "residual_cos": 0.1 * s} if sf else {})}
                for s in range(1, 7)]  # step_s logged every 2 steps: 2 x (1 + 2 + 3) = 12 s of training
        rows += [{"step": s, "eval/success": v} for s, v in CURVES[run.variant].items()]
        (run.dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
