"""Closed-loop evaluation over fixed initial states, generic over any Suite. Resumable, per-task JSON."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from spatial_forcing.eval.config import EvalConfig
from spatial_forcing.eval.episode import ActFn, play_episode
from spatial_forcing.eval.parallel import run_parallel
from spatial_forcing.sim.registry import get_suite
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

def _episode_key(task_id: int, init_state: int) -> str:
    return f"{task_id}:{init_state}"


def _load_done(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill: that episode is simply run again
            done[_episode_key(rec["task_id"], rec["init_state"])] = rec
    return done


def _check(cfg: EvalConfig, suite) -> list[int]:
    task_ids = cfg.tasks or list(range(len(suite.tasks)))
    for t in task_ids:
        if not 0 <= t < len(suite.tasks):
            raise SFError(f"--tasks: task {t} out of range for {cfg.env} (0..{len(suite.tasks) - 1})")
        bad = [i for i in cfg.init_states if not 0 <= i < suite.num_init_states(t)]
        if bad:
            raise SFError(f"--init-states {bad} out of range for task {t} (0..{suite.num_init_states(t) - 1})")
    if cfg.workers < 1:
        raise SFError(f"--workers must be >= 1, got {cfg.workers}")
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


def evaluate(act: ActFn | str | Path, cfg: EvalConfig, out_json: str | Path, label: str = "") -> dict:
    """Run every (task, init state) not already in `<out_json>.episodes.jsonl`; write the summary JSON.

    `act` is an action function, or an exported policy directory (needed for `cfg.workers > 1`: every
    worker process loads its own copy).
    """
    suite = get_suite(cfg.env)
    task_ids = _check(cfg, suite)
    out_json = Path(out_json)
    episodes_path = out_json.with_name(out_json.stem + ".episodes.jsonl")
    done = _load_done(episodes_path)
    todo = [(t, i) for t in task_ids for i in cfg.init_states if _episode_key(t, i) not in done]
    if done:
        log.info("resuming evaluation: %d episodes done, %d to go", len(done), len(todo))
    episodes_path.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(task_ids) * len(cfg.init_states), initial=len(done), desc=f"eval {label}".strip())
    t0 = time.time()
    if cfg.workers > 1 and todo:
        if callable(act):
            raise SFError("evaluate: workers > 1 needs an exported policy directory, not an action function")
        records = run_parallel(str(act), cfg, todo)
    else:
        if not callable(act):
            from spatial_forcing.eval.policy import LoadedPolicy  # the model code, only for a directory

            act = LoadedPolicy.load(act).act
        records = _inline(act, cfg, suite, todo)
    for rec in records:  # the parent alone appends to the log: one line per finished episode
        with open(episodes_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        done[_episode_key(rec["task_id"], rec["init_state"])] = rec
        bar.update(1)
    bar.close()
    per_task, subgoal_rates = {}, {}
    for task_id in task_ids:
        recs = [done[_episode_key(task_id, i)] for i in cfg.init_states]
        per_task[suite.tasks[task_id].name] = float(np.mean([r["success"] for r in recs]))
        for r in recs:
            for key, value in r.get("subgoals", {}).items():
                subgoal_rates.setdefault(key, []).append(value)
    result = {"env": cfg.env, "label": label, "success_rate": float(np.mean(list(per_task.values()))),
              "per_task": per_task, "subgoal_rates": {k: float(np.mean(v)) for k, v in subgoal_rates.items()},
              "episodes": len(task_ids) * len(cfg.init_states),
              "wall_s_this_run": round(time.time() - t0, 1), "config": asdict(cfg)}
    write_json(out_json, result)
    return result
