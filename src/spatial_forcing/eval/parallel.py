"""Evaluation episodes spread over worker processes (spawned; one torch thread and one env each).

Every worker loads the exported policy once and keeps one env, rebuilt when its task changes. Workers
return episode records; the parent alone writes the episodes log, so resume works as in one process.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import asdict
from typing import Any, Iterator

import torch

from spatial_forcing.eval.config import EvalConfig
from spatial_forcing.eval.episode import play_episode
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.sim.registry import get_suite

_STATE: dict[str, Any] = {}  # per worker process: policy, cfg, suite, env, env_key


def _init(policy_dir: str, cfg_dict: dict) -> None:
    torch.set_num_threads(1)
    cfg = EvalConfig(**cfg_dict)
    _STATE.update(policy=LoadedPolicy.load(policy_dir), cfg=cfg, suite=get_suite(cfg.env), env=None, env_key=None)


def _episode(item: tuple[int, int]) -> dict:
    task_id, init_state = item
    cfg, suite = _STATE["cfg"], _STATE["suite"]
    if _STATE["env_key"] != task_id:
        if _STATE["env"] is not None:
            _STATE["env"].close()
        _STATE["env"], _STATE["env_key"] = suite.make_env(task_id, image_size=cfg.image_size), task_id
    return play_episode(_STATE["env"], _STATE["policy"].act, suite.tasks[task_id], task_id, init_state, cfg)


def run_parallel(policy_dir: str, cfg: EvalConfig, todo: list[tuple[int, int]]) -> Iterator[dict]:
    """Episode records of `todo` as workers finish them (order not kept)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(cfg.workers, len(todo)), initializer=_init, initargs=(policy_dir, asdict(cfg))) as pool:
        yield from pool.imap_unordered(_episode, todo)
