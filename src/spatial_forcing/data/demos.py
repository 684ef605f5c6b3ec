"""Per-episode demonstration work, run in worker processes: expert rollouts without cameras, then re-rendering
of successful rollouts by replaying their simulator states. Each result is one `.npz` part file in a work
directory, written atomically, so an interrupted generation resumes from the parts already on disk.

Work items are plain tuples so they pickle under the "spawn" start method; every process builds its suite
and envs once and keeps them in module globals.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from spatial_forcing.utils.atomic import atomic_path

log = logging.getLogger(__name__)

_SUITES: dict[str, Any] = {}  # suite spec -> suite, per process
_ENVS: dict[tuple, Any] = {}  # (spec, task_id, image_size, cameras, render_depth) -> env, per process


class Item(NamedTuple):
    """One episode to roll out or render."""

    suite: str  # registry name ("tabletop") or "module:factory"
    task_id: int  # task of the suite
    slot: int  # fixed initial state index (fixed=True) or attempt number (random layouts)
    fixed: bool  # True: reset(options={"init_state": slot}); False: reset(seed=seed), a suite-drawn layout
    seed: int  # episode seed (env reset and numpy global RNG)
    work_dir: str  # where part files live
    image_size: int  # render resolution (render items only)
    geometry: bool = False  # render items: also keep depth, segmentation and camera matrices per camera
    noise: float = 0.0  # DART push size (action units) on the executed position actions; 0 = clean demos
    noise_rate: float = 0.05  # probability per moving step that a push starts

    def reset_options(self) -> dict:
        """The `options` passed to env.reset."""
        return {"init_state": self.slot} if self.fixed else {}


def load_suite(spec: str) -> Any:
    """The suite of a registry name or "package.module:factory" (custom / test suites), once per process."""
    if spec not in _SUITES:
        from spatial_forcing.sim.registry import get_suite  # imported by workers only when they need a suite

        _SUITES[spec] = get_suite(spec)
    return _SUITES[spec]


def _env(spec: str, task_id: int, image_size: int, cameras: bool, render_depth: bool = False) -> Any:
    key = (spec, task_id, image_size, cameras, render_depth)
    if key not in _ENVS:
        kwargs = {"render_depth": True} if render_depth else {}
        _ENVS[key] = load_suite(spec).make_env(task_id, image_size=image_size, cameras=cameras, **kwargs)
    return _ENVS[key]


def close_envs() -> None:
    """Close every cached env, so renderers are freed before the interpreter tears down their GL context."""
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


def _stem(task_id: int, slot: int, fixed: bool) -> str:
    return f"t{task_id:03d}_{'i' if fixed else 'r'}{slot:05d}"


def rollout_path(work_dir: str | Path, task_id: int, slot: int, fixed: bool = True) -> Path:
    """Part file of an expert rollout (success flag, sim states, proprio, actions)."""
    return Path(work_dir) / f"{_stem(task_id, slot, fixed)}.rollout.npz"


def render_path(work_dir: str | Path, task_id: int, slot: int, image_size: int, fixed: bool = True,
                geometry: bool = False) -> Path:
    """Part file of the re-rendered observations of a successful rollout (with geometry: a separate file)."""
    return Path(work_dir) / f"{_stem(task_id, slot, fixed)}.{'geo' if geometry else 'img'}{image_size}.npz"


def _save_npz(path: Path, compressed: bool = False, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        (np.savez_compressed if compressed else np.savez)(fh, **arrays)


def load_rollout(path: str | Path) -> dict[str, Any]:
    """A rollout part: success (bool), steps (int), state [T, S], action [T, A], sim_states (list of T)."""
    with np.load(path) as z:
        out = {k: z[k] for k in z.files if k != "sim_states"}
        out["sim_states"] = pickle.loads(z["sim_states"].tobytes())
    out["success"] = bool(out["success"])
    return out


def rollout_episode(item: Item) -> tuple[int, int, bool, int]:
    """Run the expert without cameras from one initial state and save the rollout part.

    Returns (task_id, slot, success, steps). Rollouts are recorded whether or not they succeed, so a
    resumed run does not retry failures.
    """
    suite = load_suite(item.suite)
    env = _env(item.suite, item.task_id, item.image_size, cameras=False)
    np.random.seed(item.seed % 2**32)
    obs, _ = env.reset(seed=item.seed, options=item.reset_options())
    expert = suite.expert(env)
    noise = _NoisyExecution(item.noise, item.noise_rate, item.seed)
    sim_states, proprio, actions = [], [], []
    success = False
    for _ in range(int(suite.tasks[item.task_id].max_steps)):
        sim_states.append(env.get_sim_state())
        proprio.append(np.asarray(obs["observation.state"], dtype=np.float32))
        action = np.asarray(expert(obs), dtype=np.float32)
        actions.append(action)  # the label is always the expert's own action
        obs, _, terminated, truncated, info = env.step(noise(action))
        if info.get("success", False):
            success = True
            break
        if terminated or truncated:
            break
    _save_npz(rollout_path(item.work_dir, item.task_id, item.slot, item.fixed),
              success=np.array(success), steps=np.array(len(actions)),
              state=np.stack(proprio), action=np.stack(actions),
              sim_states=np.frombuffer(pickle.dumps(sim_states), dtype=np.uint8))
    return item.task_id, item.slot, success, len(actions)


class _NoisyExecution:
    """DART-style demonstrations: while the expert moves, random pushes (a constant offset of norm `size`
    action units added to the executed x, y, z action for 2-6 steps, starting with probability `rate` per
    step) take the gripper off the expert's path; the recorded labels stay the expert's own actions, so
    the data show the way back. Waits (grasping, releasing) are never pushed."""

    def __init__(self, size: float, rate: float, seed: int) -> None:
        self.size, self.rate = float(size), float(rate)
        self.rng = np.random.default_rng([seed, 1])
        self.push, self.left = np.zeros(3), 0

    def __call__(self, action: np.ndarray) -> np.ndarray:
        if self.size <= 0 or not np.any(action[:3]):
            return action
        if self.left == 0 and self.rng.random() < self.rate:
            direction = self.rng.normal(size=3)
            self.push = self.size * direction / np.linalg.norm(direction)
            self.left = int(self.rng.integers(2, 7))
        if self.left == 0:
            return action
        self.left -= 1
        out = action.copy()
        out[:3] = np.clip(out[:3] + self.push, -1.0, 1.0)
        return out


def render_episode(item: Item) -> tuple[int, int]:
    """Replay a saved rollout's simulator states in a camera env and save its observations part: every
    observation key but the proprio state (images, the suite's extras such as environment_state, and with
    `item.geometry` depth / segmentation / camera matrices)."""
    rollout = load_rollout(rollout_path(item.work_dir, item.task_id, item.slot, item.fixed))
    env = _env(item.suite, item.task_id, item.image_size, cameras=True, render_depth=item.geometry)
    env.reset(seed=item.seed, options=item.reset_options())
    views: dict[str, list[np.ndarray]] = {}
    worst = 0.0
    for t, sim_state in enumerate(rollout["sim_states"]):
        env.set_sim_state(sim_state)
        obs = env.render_observation()
        for key, value in obs.items():
            if key.startswith("observation.images."):
                views.setdefault(key, []).append(np.asarray(value, dtype=np.uint8))
            elif key != "observation.state":
                views.setdefault(key, []).append(np.asarray(value))
        if "observation.state" in obs:
            gap = np.abs(np.asarray(obs["observation.state"]) - rollout["state"][t]).max()
            worst = max(worst, float(gap))
    if worst > 1e-3:
        log.warning("task %d slot %d: replayed proprio differs from the rollout by up to %.2e",
                    item.task_id, item.slot, worst)
    path = render_path(item.work_dir, item.task_id, item.slot, item.image_size, item.fixed, item.geometry)
    _save_npz(path, compressed=True, **{key: np.stack(frames) for key, frames in views.items()})
    return item.task_id, item.slot
