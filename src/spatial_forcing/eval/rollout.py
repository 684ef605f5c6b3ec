"""Closed-loop evaluation over fixed initial states, generic over any Suite. Resumable, per-task JSON."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from spatial_forcing.eval.config import EvalConfig, protocol
from spatial_forcing.eval.episode import ActFn, play_episode
from spatial_forcing.eval.episode_log import EpisodeLog, callable_key, episodes_path, policy_digest
from spatial_forcing.eval.parallel import run_parallel
from spatial_forcing.sim.registry import get_suite
from spatial_forcing.utils.atomic import check_file_target, write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


def _check(cfg: EvalConfig, suite) -> list[int]:
    task_ids = cfg.tasks or list(range(len(suite.tasks)))
    if not cfg.init_states:
        raise SFError("--init-states: no initial states given, so there is nothing to evaluate")
    for t in task_ids:
        if not 0 <= t < len(suite.tasks):
            raise SFError(f"--tasks: task {t} out of range for {cfg.env} (0..{len(suite.tasks) - 1})")
        bad = [i for i in cfg.init_states if not 0 <= i < suite.num_init_states(t)]
        if bad:
            raise SFError(f"--init-states {bad} out of range for task {t} (0..{suite.num_init_states(t) - 1})")
    if cfg.workers < 1:
        raise SFError(f"--workers must be >= 1, got {cfg.workers}")
    if not (math.isfinite(cfg.temporal_ensemble) and cfg.temporal_ensemble >= 0):
        raise SFError(f"--temporal-ensemble must be a number >= 0 (0 = off), got {cfg.temporal_ensemble}")
    if cfg.temporal_ensemble and cfg.open_loop_steps:
        raise SFError("--temporal-ensemble executes one action per query; drop --open-loop-steps")
    return task_ids


def _inline(act: ActFn, cfg: EvalConfig, suite, todo: list[tuple[int, int]]) -> Iterator[dict]:
    """Episodes in this process, one env per task."""
    for task_id in dict.fromkeys(t for t, _ in todo):
        env = suite.make_env(task_id, image_size=cfg.image_size)
        try:
            for t, init_state in todo:
                if t == task_id:
                    yield play_episode(env, act, suite.tasks[task_id], task_id, init_state, cfg)
        finally:
            env.close()


def _episode_seconds(records) -> float | None:
    """Seconds spent playing the logged episodes, over every invocation that logged them (with workers, the
    sum of their times); None if some record predates per-episode timing."""
    seconds = [r.get("seconds") for r in records]
    return None if None in seconds else round(sum(seconds), 1)


def evaluate(act: ActFn | str | Path, cfg: EvalConfig, out_json: str | Path, label: str = "",
             policy_key: str | None = None) -> dict:
    """Run every (task, init state) not already in `<out_json>.episodes.jsonl`; write the summary JSON.

    `act` is an action function, or an exported policy directory (needed for `cfg.workers > 1`: every
    worker process loads its own copy). Logged episodes are reused only if the same policy made them under
    the same protocol (eval.episode_log); `policy_key` names the policy behind an action function (default:
    the function's qualified name; a policy directory is keyed by a digest of its files).
    """
    suite = get_suite(cfg.env)
    task_ids = _check(cfg, suite)
    if cfg.workers > 1 and callable(act):
        raise SFError("evaluate: workers > 1 needs an exported policy directory, not an action function")
    if policy_key is None:
        policy_key = callable_key(act) if callable(act) else policy_digest(act)
    out_json = Path(out_json)
    check_file_target(out_json)  # before any episode runs, not when the summary is written
    episode_log = EpisodeLog(episodes_path(out_json), policy_key, protocol(cfg))
    done = episode_log.load()
    todo = [(t, i) for t in task_ids for i in cfg.init_states if EpisodeLog.key(t, i) not in done]
    total = len(task_ids) * len(cfg.init_states)
    if len(todo) < total:
        log.info("resuming evaluation: %d episodes done, %d to go", total - len(todo), len(todo))
    bar = tqdm(total=total, initial=total - len(todo), desc=f"eval {label}".strip())
    t0 = time.time()
    if cfg.workers > 1 and todo:
        records = run_parallel(str(act), cfg, todo)
    else:
        if not callable(act):
            from spatial_forcing.eval.policy import LoadedPolicy  # the model code, only for a directory

            act = LoadedPolicy.load(act).act
        records = _inline(act, cfg, suite, todo)
    for rec in records:  # the parent alone appends to the log: one line per finished episode
        done[EpisodeLog.key(rec["task_id"], rec["init_state"])] = episode_log.append(rec)
        bar.update(1)
    bar.close()
    per_task, subgoal_rates, counted = {}, {}, []
    for task_id in task_ids:
        recs = [done[EpisodeLog.key(task_id, i)] for i in cfg.init_states]
        counted += recs
        per_task[suite.tasks[task_id].name] = float(np.mean([r["success"] for r in recs]))
        for r in recs:
            for key, value in r.get("subgoals", {}).items():
                subgoal_rates.setdefault(key, []).append(value)
    result = {"env": cfg.env, "label": label, "policy": policy_key,
              "success_rate": float(np.mean(list(per_task.values()))),
              "per_task": per_task, "subgoal_rates": {k: float(np.mean(v)) for k, v in subgoal_rates.items()},
              "episodes": total, "wall_s_this_run": round(time.time() - t0, 1),
              "episode_seconds": _episode_seconds(counted), "config": asdict(cfg)}
    write_json(out_json, result, allow_nan=False)  # NaN is not JSON: fail here rather than write it
    return result
