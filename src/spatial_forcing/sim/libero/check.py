"""Run the LIBERO scripted expert over tasks x init states, without cameras; print and save a table.

    python -m spatial_forcing.sim.libero.check --suite libero_spatial --init-states 40-49 --workers 2 --out F.json
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import time

from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


def parse_range(text: str) -> list[int]:
    """"40-49" or "0,3,5" -> list of ints."""
    try:
        if "-" in text:
            a, b = text.split("-")
            return list(range(int(a), int(b) + 1))
        return [int(x) for x in text.split(",")]
    except ValueError as exc:
        raise SFError(f"--init-states/--tasks: expected 'A-B' or 'a,b,c', got {text!r}") from exc


def run_task(args: tuple[str, int, list[int], int]) -> list[dict]:
    """Expert episodes for one task (one env reused): [{task, init_state, success, steps, seconds}]."""
    suite_name, task_id, states, max_steps = args
    import torch

    torch.set_num_threads(1)
    from spatial_forcing.sim.registry import get_suite

    suite = get_suite(suite_name)
    env = suite.make_env(task_id, cameras=False)
    out = []
    try:
        for i in states:
            t0 = time.time()
            obs, _ = env.reset(options={"init_state": i})
            policy = suite.expert(env)
            success, steps = False, 0
            for steps in range(1, max_steps + 1):
                obs, _, success, _, _ = env.step(policy(obs))
                if success:
                    break
            out.append({"task": task_id, "init_state": i, "success": bool(success), "steps": steps,
                        "seconds": round(time.time() - t0, 2)})
            log.info("task %d init %d success=%s steps=%d", task_id, i, success, steps)
    finally:
        env.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="libero_spatial")
    p.add_argument("--tasks", default="0-9")
    p.add_argument("--init-states", default="40-49")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--extra-steps", type=int, default=10, help="added to the task's max_steps (settle steps)")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from spatial_forcing.sim.registry import get_suite

    suite = get_suite(a.suite)
    jobs = [(a.suite, t, parse_range(a.init_states), suite.tasks[t].max_steps + a.extra_steps)
            for t in parse_range(a.tasks)]
    t0 = time.time()
    if a.workers > 1:
        with mp.get_context("spawn").Pool(a.workers) as pool:
            rows = [r for chunk in pool.imap_unordered(run_task, jobs) for r in chunk]
    else:
        rows = [r for job in jobs for r in run_task(job)]
    table = {}
    for r in sorted(rows, key=lambda r: (r["task"], r["init_state"])):
        table.setdefault(r["task"], []).append(r)
    for t, rs in table.items():
        ok = sum(r["success"] for r in rs)
        print(f"task {t}: {ok}/{len(rs)}  fails={[r['init_state'] for r in rs if not r['success']]}"
              f"  mean_steps={sum(r['steps'] for r in rs) / len(rs):.0f}")
    total = sum(r["success"] for r in rows)
    print(f"total {total}/{len(rows)} in {time.time() - t0:.0f}s")
    if a.out:
        write_json(a.out, {"suite": a.suite, "rows": rows, "success_rate": total / max(len(rows), 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
