"""Pretraining renders: sampling from the tabletop suite (random tasks, non-evaluation seeds, expert
trajectories) and the on-disk render cache in front of both sources (tabletop here, `synthetic`)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spatial_forcing.teachers.pretrain.render_set import CAMERAS, RenderSet
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


def _obs_sample(obs: dict) -> tuple[np.ndarray, ...]:
    """(images, depth, intrinsics, extrinsics) stacked over CAMERAS from one env observation."""
    return tuple(np.stack([np.asarray(obs[f"observation.{key}.{cam}"]) for cam in CAMERAS])
                 for key in ("images", "depth", "intrinsics", "extrinsics"))


# The eight relation tasks: the shipped teacher and vit2d weights were pretrained on them, before the one-block
# rungs (tasks 8-9, whose props they all contain) existed; keeping the draw to them keeps those commands exact.
PRETRAIN_TASKS = tuple(range(8))


def render_tabletop(n: int, image_size: int = 64, seed: int = 0, every: int = 4,
                    tasks: tuple[int, ...] = PRETRAIN_TASKS) -> RenderSet:
    """`n` samples from the tabletop suite: random tasks among `tasks`, random reset seeds (falling back to the
    fixed initial states if the env insists on them), and every `every`-th state along the scripted expert's
    trajectory so wrist views cover approach, grasp and lift."""
    from spatial_forcing.sim.registry import get_suite

    suite = get_suite("tabletop")
    rng = np.random.default_rng(seed)
    envs: dict[int, object] = {}
    samples: list[tuple[np.ndarray, ...]] = []
    bar = tqdm(total=n, desc="render tabletop", unit="sample")
    try:
        while len(samples) < n:
            task = tasks[int(rng.integers(len(tasks)))]
            if task not in envs:
                # no cameras while stepping: only every `every`-th state is rendered, on demand
                envs[task] = suite.make_env(task, image_size=image_size, render_depth=True, cameras=False)
            env = envs[task]
            try:
                obs, _ = env.reset(seed=int(rng.integers(1_000, 2**31 - 1)))
            except (TypeError, ValueError, KeyError):
                obs, _ = env.reset(options={"init_state": int(rng.integers(suite.num_init_states(task)))})
            policy = suite.expert(env)
            offset = int(rng.integers(every))
            for t in range(suite.tasks[task].max_steps):
                if t % every == offset:
                    samples.append(_obs_sample(env.render_observation()))
                    bar.update(1)
                    if len(samples) >= n:
                        break
                action = policy(obs)
                if rng.random() < 0.15:  # perturb so states leave the expert's exact path
                    action = np.clip(action + rng.normal(0, 0.3, action.shape), -1, 1).astype(np.float32)
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
    finally:
        bar.close()
        for env in envs.values():
            env.close()
    images, depth, intr, extr = (np.stack(x) for x in zip(*samples))
    return RenderSet(images=images.astype(np.uint8), depth=depth.astype(np.float32),
                     intrinsics=intr.astype(np.float32), extrinsics=extr.astype(np.float32))


def get_renders(source: str, n: int, image_size: int, cache: str | Path, seed: int = 0) -> RenderSet:
    """Load `cache` if it holds >= n samples at `image_size`, else render (source "tabletop" or
    "synthetic") and write it."""
    cache = Path(cache)
    if cache.is_file():
        data = RenderSet.load(cache)
        if len(data) >= n and data.images.shape[2] == image_size:
            log.info("loaded %d cached renders from %s", len(data), cache)
            return data.subset(slice(0, n))
        log.info("cache %s does not match (%d samples, %d px); re-rendering", cache, len(data),
                 data.images.shape[2])
    if source == "tabletop":
        data = render_tabletop(n, image_size, seed)
    elif source == "synthetic":  # imported here: only this source needs its own MuJoCo scene
        from spatial_forcing.teachers.pretrain.synthetic import render_synthetic

        data = render_synthetic(n, image_size, seed)
    else:
        raise SFError(f"--data: expected 'tabletop' or 'synthetic', got {source!r}")
    data.save(cache)
    log.info("rendered %d samples to %s", len(data), cache)
    return data
