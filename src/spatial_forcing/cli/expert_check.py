"""`sf expert-check`: success rate of a suite's scripted expert over fixed initial states (no cameras).

Generic over suites (`sim.registry.get_suite`). Work is split into (task, init-state chunk) jobs; with
`--workers N > 1` they run in N spawned processes, each building its own env once per job.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing as mp
import time

import numpy as np
from tqdm import tqdm

from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import format_int_ranges, int_ranges_type

log = logging.getLogger(__name__)

Result = tuple[int, int, bool, int]  # (task_id, init_state, success, steps)


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
    from spatial_forcing.sim.registry import get_suite

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


def main(args: argparse.Namespace) -> int:
    from spatial_forcing.sim.registry import get_suite

    suite = get_suite(args.env)
    names = [t.name for t in suite.tasks]
    tasks = list(range(len(names))) if args.tasks is None else args.tasks
    if any(not 0 <= t < len(names) for t in tasks):
        raise SFError(f"--tasks {format_int_ranges(tasks)}: expected ids in 0..{len(names) - 1}")
    n_states = min(suite.num_init_states(t) for t in tasks)
    states = list(range(n_states)) if args.init_states is None else args.init_states
    if any(i >= n_states for i in states):
        raise SFError(f"--init-states {format_int_ranges(states)}: {args.env} has only {n_states} initial "
                      "states per task")
    states = states[: args.episodes_per_task]
    if args.workers < 1:
        raise SFError(f"--workers {args.workers}: expected >= 1")
    jobs = make_jobs(args.env, tasks, states, args.workers)
    log.info("%d tasks x %d initial states in %d jobs on %d worker(s)", len(tasks), len(states), len(jobs),
             args.workers)
    start, results = time.time(), []
    bar = tqdm(total=len(tasks) * len(states), desc=f"expert-check {args.env}", unit="ep")
    if args.workers == 1:
        for job in jobs:
            results += run_job(job)
            bar.update(len(job[2]))
    else:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            for chunk in pool.imap_unordered(run_job, jobs):
                results += chunk
                bar.update(len(chunk))
    bar.close()
    report = summarise(results, names, tasks, format_int_ranges(states))
    report["env"], report["seconds"] = args.env, round(time.time() - start, 1)
    write_json(args.out, report)
    width = max(len(n) for n in names)
    print(f"{'task':<{width}}  success  mean_steps  max_steps")
    for t in tasks:
        steps = report["mean_steps_success"][names[t]]
        print(f"{names[t]:<{width}}  {report['per_task'][names[t]]:7.2f}  {steps or float('nan'):10.1f}"
              f"  {suite.tasks[t].max_steps:9d}")
    print(f"min_success {report['min_success']:.2f} over {report['episodes']} episodes "
          f"({report['seconds']} s) -> {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("expert-check", help="success rate of a suite's scripted expert (no cameras)")
    parser.add_argument("--env", required=True, help="suite name, e.g. tabletop or libero_spatial")
    parser.add_argument("--out", required=True, help="JSON report path (written atomically)")
    parser.add_argument("--init-states", default=None, type=int_ranges_type(),
                        help="initial states A-B (both included) or a list (0-4,7); default: all")
    parser.add_argument("--episodes-per-task", type=int, default=None, help="use only the first K states")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--tasks", default=None, type=int_ranges_type(),
                        help="task ids, e.g. 1,5 or 0-3 (default: all)")
    parser.set_defaults(func=main)
