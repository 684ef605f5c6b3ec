"""Success during training (`sf train --eval-every N`): the student in memory, rolled out closed loop on fixed
initial states every N steps, so that learning curves (success vs steps) exist.

Each evaluation is an ordinary resumable `evaluate` run written to `RUN/evals/step_NNNNNN.json` (episodes log
beside it); its rates are returned for metrics.jsonl / TensorBoard as `eval/success`, `eval/<sub-goal>` and
`eval/task/<task name>`. A run killed during an evaluation resumes from its checkpoint with bit-exact weights,
so the episodes already logged for that step stay valid.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch

from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.eval.config import protocol
from spatial_forcing.eval.episode_log import EpisodeLog, episodes_path, weights_digest
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.eval.rollout import EvalConfig, evaluate
from spatial_forcing.sim.registry import SUITES, get_suite
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


def eval_config(cfg: TrainConfig, data: ChunkDataset) -> EvalConfig:
    """The EvalConfig of the in-training evaluations: the dataset's suite (or `cfg.eval_env`), the suite tasks
    whose instruction the dataset holds (or `cfg.eval_tasks`), `cfg.eval_init_states`, the dataset's image size."""
    env = cfg.eval_env or data.reader.info.get("robot_type", "")
    if env not in SUITES:
        raise SFError(f"--eval-env {env!r}: expected a suite name, one of {sorted(SUITES)} (the dataset "
                      f"{data.reader.root} does not name one)")
    suite = get_suite(env)
    tasks = list(cfg.eval_tasks) or [i for i, t in enumerate(suite.tasks) if t.instruction in data.instructions]
    if not tasks:
        raise SFError(f"--eval-every: no task of suite {env!r} has an instruction of dataset {data.reader.root}; "
                      "give --eval-tasks")
    size = int(data.reader.features[f"observation.images.{cfg.cameras[0]}"]["shape"][0])
    return EvalConfig(env=env, tasks=tasks, init_states=list(cfg.eval_init_states), image_size=size,
                      seed=cfg.eval_seed)


def curve_evaluator(cfg: TrainConfig, data: ChunkDataset,
                    device: torch.device = torch.device("cpu")) -> Callable[[int, torch.nn.Module], dict]:
    """`on_eval(step, policy) -> scalars` for `train`, evaluating the policy as it is in memory (on `device`,
    where it trains: LoadedPolicy moves its model there)."""
    ecfg = eval_config(cfg, data)
    out_dir = Path(cfg.out) / "evals"
    log.info("evaluating every %d steps on %s tasks %s, init states %s", cfg.eval_every, ecfg.env, ecfg.tasks,
             ecfg.init_states)

    def run(step: int, policy: torch.nn.Module) -> dict:
        act = LoadedPolicy(policy, data.normalizer, cfg.cameras, str(device), crop_scale=cfg.crop_scale).act
        out = out_dir / f"step_{step:06d}.json"
        # `act` is the same method at every step: the weights (and what maps them to actions) key the episodes
        key = weights_digest(policy, {"stats": data.stats, "cameras": list(cfg.cameras), "crop": cfg.crop_scale})
        _set_aside_stale(out, key, ecfg)
        res = evaluate(act, ecfg, out, label=f"step {step}", policy_key=key)
        log.info("step %d: success %.3f %s", step, res["success_rate"],
                 " ".join(f"{k} {v:.3f}" for k, v in res["subgoal_rates"].items()))
        return {"eval/success": res["success_rate"],
                **{f"eval/{k}": v for k, v in res["subgoal_rates"].items()},
                **{f"eval/task/{k}": v for k, v in res["per_task"].items()}}

    return run


def _set_aside_stale(out: Path, key: str, ecfg: EvalConfig) -> None:
    """A resumed run re-evaluates a step whose logged episodes are of other weights (a resume that is not
    bit-exact, e.g. on another device) or of changed evaluation options: `evaluate` would refuse that log,
    and those episodes no longer describe this run, so they are kept aside as `.stale` and the step reruns."""
    path = episodes_path(out)
    try:
        EpisodeLog(path, key, protocol(ecfg)).load()
    except SFError as err:
        log.warning("%s; keeping it as %s.stale and evaluating step again", err, path.name)
        path.replace(path.with_name(path.name + ".stale"))
