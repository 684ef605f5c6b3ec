"""Success rate of a suite's scripted expert over fixed initial states (no cameras): `sf expert-check`.

Generic over suites (`sim.registry.get_suite`). Work is split into (task, init-state chunk) jobs; with
`workers > 1` they run in that many spawned processes, each building its own env once per job.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from spatial_forcing.sim.registry import get_suite
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import format_int_ranges

log = logging.getLogger(__name__)

Result = tuple[int, int, bool, int]  # (task_id, init_state, success, steps)


@dataclass
class ExpertCheckConfig:
    """`sf expert-check`: the options of `check_expert` (empty lists and 0 mean its defaults)."""

    env: str  # suite name, e.g. tabletop or libero_spatial
    out: str  # JSON report path (written atomically)
    init_states: list[int] = field(default_factory=list)  # initial states, e.g. 0-49 or 0-4,7; [] = all
    episodes_per_task: int = 0  # use only the first K of those states; 0 = all
    workers: int = 1  # worker processes
    tasks: list[int] = field(default_factory=list)  # task ids, e.g. 1,5 or 0-3; [] = all

    def run(self) -> dict:
        """The report of `check_expert`, also written to `out`."""
        report = check_expert(self.env, self.tasks or None, self.init_states or None,
                              self.episodes_per_task or None, self.workers)
        write_json(self.out, report)
        return report


def run_episode(env, expert, init_state: int, max_steps: int, task_id: int = 0) -> tuple[bool, int]:
    """Roll the expert from fixed state `init_state` until success, termination or `max_steps`.

    The global numpy RNG is seeded per (task, init state): robosuite draws reset noise from it, so an
    episode's outcome does not depend on which episodes a worker happened to run before it."""
    np.random.seed(task_id * 100_003 + init_state)
    obs, info = env.reset(options={"init_state": init_state})
    success, steps = bool(info.get("success", False)), 0
    while steps < max_steps and not success:
        obs, _, terminated, truncated, info = env.step(expert(obs))
        steps += 1
        success = bool(info.get("success", False))
        if terminated or truncated:
            break
    return success, steps


def run_job(job: tuple[str, int, list[int]]) -> list[Result]:
    """Run one task's init states in this process (also the multiprocessing entry point)."""
    env_name, task_id, states = job
    suite = get_suite(env_name)
    env = suite.make_env(task_id, cameras=False)
    expert = suite.expert(env)
    max_steps = suite.tasks[task_id].max_steps
    out = []
    try:
        for i in states:
            success, steps = run_episode(env, expert, i, max_steps, task_id)
            out.append((task_id, i, success, steps))
    finally:
        if hasattr(env, "close"):
            env.close()
    return out


def make_jobs(env_name: str, tasks: list[int], states: list[int],
              workers: int) -> list[tuple[str, int, list[int]]]:
    """Split each task's states so that all workers get work even when tasks are few."""
    pieces = max(1, math.ceil(workers / max(1, len(tasks)))) if workers > 1 else 1
    size = max(1, math.ceil(len(states) / pieces))
    return [(env_name, t, states[k:k + size]) for t in tasks for k in range(0, len(states), size)]


def summarise(results: list[Result], names: list[str], tasks: list[int], init_states: str) -> dict:
    """The JSON report: success per task, the minimum, episode count, mean steps of successful episodes."""
    per_task, mean_steps = {}, {}
    for t in tasks:
        rows = [r for r in results if r[0] == t]
        per_task[names[t]] = float(np.mean([r[2] for r in rows])) if rows else 0.0
        ok = [r[3] for r in rows if r[2]]
        mean_steps[names[t]] = float(np.mean(ok)) if ok else None
    return {"per_task": per_task, "min_success": min(per_task.values()) if per_task else 0.0,
            "episodes": len(results), "init_states": init_states, "mean_steps_success": mean_steps}


def check_expert(env_name: str, tasks: list[int] | None = None, init_states: list[int] | None = None,
                 episodes_per_task: int | None = None, workers: int = 1) -> dict:
    """Roll the expert of every task (default all) from every initial state (default all those every task
    has), keeping the first `episodes_per_task` states; the report of `summarise`, plus env, seconds and
    each task's step limit."""
    if workers < 1:
        raise SFError(f"--workers {workers}: expected >= 1")
    suite = get_suite(env_name)
    names = [t.name for t in suite.tasks]
    tasks = list(range(len(names))) if tasks is None else list(tasks)
    if any(not 0 <= t < len(names) for t in tasks):
        raise SFError(f"--tasks {format_int_ranges(tasks)}: expected ids in 0..{len(names) - 1}")
    n_states = min(suite.num_init_states(t) for t in tasks)
    states = list(range(n_states)) if init_states is None else list(init_states)
    if any(i >= n_states for i in states):
        raise SFError(f"--init-states {format_int_ranges(states)}: {env_name} has only {n_states} initial "
                      "states per task")
    states = states[:episodes_per_task]
    jobs = make_jobs(env_name, tasks, states, workers)
    log.info("%d tasks x %d initial states in %d jobs on %d worker(s)", len(tasks), len(states), len(jobs),
             workers)
    start, results = time.time(), []
    bar = tqdm(total=len(tasks) * len(states), desc=f"expert-check {env_name}", unit="ep")
    if workers == 1:
        for job in jobs:
            results += run_job(job)
            bar.update(len(job[2]))
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            for chunk in pool.imap_unordered(run_job, jobs):
                results += chunk
                bar.update(len(chunk))
    bar.close()
    report = summarise(results, names, tasks, format_int_ranges(states))
    report["max_steps"] = {names[t]: suite.tasks[t].max_steps for t in tasks}
    report["env"], report["seconds"] = env_name, round(time.time() - start, 1)
    return report
