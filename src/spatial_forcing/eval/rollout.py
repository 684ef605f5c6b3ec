"""Closed-loop evaluation over fixed initial states, generic over any Suite. Resumable, per-task JSON."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from spatial_forcing.sim.registry import get_suite
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

# act(observations, instructions) -> [B, chunk, action_dim] executable actions
ActFn = Callable[[Sequence[dict], Sequence[str]], np.ndarray]


@dataclass
class EvalConfig:
    env: str = "tabletop"  # suite name (sim.registry)
    tasks: list[int] = field(default_factory=list)  # task ids; [] = all tasks of the suite
    init_states: list[int] = field(default_factory=lambda: list(range(10)))  # fixed initial-state ids per task
    image_size: int = 128  # camera resolution of the env (the policy resizes to its own input size)
    open_loop_steps: int = 0  # actions executed per predicted chunk; 0 = the whole chunk (OFT)
    num_steps_wait: int = 0  # steps of `wait_action` after reset (LIBERO protocol: 10)
    wait_action: list[float] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0, -1])  # dummy action while waiting
    max_steps: int = 0  # per-episode step limit; 0 = each task's own max_steps
    seed: int = 7  # torch/numpy seed, re-set per episode from (seed, task, init state)
    video_dir: str = ""  # write MP4s (agentview | wrist) here; "" = none
    videos_per_task: int = 1  # how many episodes per task get a video (the first init states listed)
    workers: int = 1  # episode worker processes (each loads the policy and one env; 1 torch thread each)


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


def run_episode(env, act: ActFn, instruction: str, init_state: int, max_steps: int, cfg: EvalConfig,
                frames: list | None = None) -> tuple[bool, int, dict]:
    """One episode; returns (success, steps taken after the wait, final info)."""
    obs, info = env.reset(options={"init_state": init_state})
    for _ in range(cfg.num_steps_wait):
        obs, _, _, _, info = env.step(np.asarray(cfg.wait_action, dtype=np.float32))
    steps = 0
    while steps < max_steps:
        chunk = act([obs], [instruction])[0]
        n = cfg.open_loop_steps or len(chunk)
        for action in chunk[:n]:
            obs, _, terminated, truncated, info = env.step(np.clip(action, -1.0, 1.0).astype(np.float32))
            steps += 1
            if frames is not None:
                frames.append(np.concatenate([obs["observation.images.agentview"],
                                              obs["observation.images.wrist"]], axis=1))
            if info.get("success") or terminated or truncated or steps >= max_steps:
                return bool(info.get("success")), steps, info
    return bool(info.get("success")), steps, info


def play_episode(env, act: ActFn, spec, task_id: int, init_state: int, cfg: EvalConfig) -> dict:
    """Seed, run and record one (task, init state) episode: the JSON line of the episodes log."""
    seed = cfg.seed * 1_000_003 + task_id * 1009 + init_state
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    want_video = bool(cfg.video_dir) and cfg.init_states.index(init_state) < cfg.videos_per_task
    frames = [] if want_video else None
    success, steps, info = run_episode(env, act, spec.instruction, init_state, cfg.max_steps or spec.max_steps,
                                       cfg, frames)
    if frames:
        _write_video(Path(cfg.video_dir) / f"{spec.name}_init{init_state}.mp4", frames)
    subgoals = {k: bool(v) for k, v in info.items() if k != "success" and isinstance(v, (bool, np.bool_))}
    return {"task_id": task_id, "task": spec.name, "init_state": init_state, "success": success, "steps": steps,
            "subgoals": subgoals}


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
        from spatial_forcing.eval.parallel import run_parallel

        records = run_parallel(str(act), cfg, todo)
    else:
        if not callable(act):
            from spatial_forcing.eval.policy import LoadedPolicy

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


def _write_video(path: Path, frames: list) -> None:
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    with imageio.get_writer(tmp, fps=20, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    tmp.replace(path)
