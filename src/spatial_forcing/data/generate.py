"""Generate a LeRobot v3 demonstration dataset from any Suite's scripted expert.

Three resumable phases, all keeping their results as part files in `<out>.work/` beside the output:
  1. roll out the expert with cameras off, recording simulator states, proprio and actions
     (more initial conditions are tried, round by round, until each task has `episodes_per_task` successes);
  2. re-render only the successful rollouts by replaying their states (failures cost no rendering), with
     `record_geometry` also per-camera depth, semantic segmentation and camera matrices;
  3. assemble the dataset with `LeRobotWriter` (atomic) and compute meta/stats.json, then drop the work dir.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.demos import (Item, close_envs, load_rollout, load_suite, render_episode, render_path,
                                        rollout_episode, rollout_path)
from spatial_forcing.data.writer import LeRobotWriter
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import parse_int_ranges

log = logging.getLogger(__name__)

STATE_NAMES = ["eef_x", "eef_y", "eef_z", "eef_ax", "eef_ay", "eef_az", "finger_l", "finger_r"]
ACTION_NAMES = ["dx", "dy", "dz", "drx", "dry", "drz", "gripper"]


@dataclass
class GenerateConfig:
    """`sf generate`: the options of `generate_dataset` (empty lists and 0 mean its defaults)."""

    env: str  # suite name (tabletop, libero_spatial, ...) or package.module:factory
    out: str  # output dataset directory (must not exist)
    episodes_per_task: int  # successful demos per task
    image_size: int = 128  # rendered image side in pixels
    workers: int = 1  # worker processes
    # [] = layouts drawn from the episode seeds (tabletop: disjoint from its fixed evaluation states)
    init_states: list[int] = field(default_factory=list)  # the suite's fixed initial states, in order; [] = random
    max_attempts: int = 0  # random layouts tried per task at most; 0 = 3 x episodes_per_task + 5
    tasks: list[int] = field(default_factory=list)  # task ids, e.g. 0,1,2 or 0-3; [] = all
    seed: int = 0  # base seed of the episodes
    # DART: random pushes of the executed position actions while the labels stay the expert's
    action_noise: float = 0.0  # size of the DART pushes in action units; 0 = clean demos
    noise_rate: float = 0.05  # probability per moving step that a push starts
    keep_work: bool = False  # keep the <out>.work part files
    # tabletop only; needed by --align.teacher oracle3d
    record_geometry: bool = False  # also store per-camera depth, semantic segmentation and camera matrices

    def run(self) -> "GenerateResult":
        return generate_dataset(self.env, self.out, self.episodes_per_task, image_size=self.image_size,
                                init_states=self.init_states or None, workers=self.workers, seed=self.seed,
                                tasks=self.tasks or None, keep_work=self.keep_work,
                                max_attempts=self.max_attempts or None, action_noise=self.action_noise,
                                noise_rate=self.noise_rate, record_geometry=self.record_geometry)


@dataclass
class GenerateResult:
    """What a generation run produced."""

    root: Path  # the dataset written
    episodes: int  # episodes in the dataset
    frames: int  # frames in the dataset
    attempts: dict[int, int] = field(default_factory=dict)  # task_id -> rollouts tried (incl. earlier runs)
    successes: dict[int, int] = field(default_factory=dict)  # task_id -> successful rollouts among them
    chosen: dict[int, list[int]] = field(default_factory=dict)  # task_id -> slots written, in episode order
    seeds: dict[int, list[int]] = field(default_factory=dict)  # task_id -> reset seed of each written episode
    seconds: float = 0.0  # wall time of this run


def _episode_seed(seed: int, task_id: int, slot: int) -> int:
    """The env reset seed of one episode: a fixed function of (run seed, task, slot)."""
    return (seed * 1_000_003 + task_id * 10_007 + slot) % 2**31


def _run(fn: Callable, items: list[Item], workers: int, desc: str) -> list:
    """Apply `fn` to every item, in `workers` spawned processes (or inline for 1), with a progress bar."""
    if not items:
        return []
    if workers <= 1:
        try:
            return [fn(it) for it in tqdm(items, desc=desc, unit="ep")]
        finally:
            close_envs()
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(workers, len(items))) as pool:
        return list(tqdm(pool.imap_unordered(fn, items), total=len(items), desc=desc, unit="ep"))


def _check_work_dir(work: Path, meta: dict) -> None:
    path = work / "meta.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != meta:
            raise SFError(f"{path} was made with different settings {old}; delete {work} or reuse them")
    else:
        write_json(path, meta)


def generate_dataset(suite_name: str, out_root: str | Path, episodes_per_task: int, image_size: int = 128,
                     init_states: Sequence[int] | range | str | None = None, workers: int = 1, seed: int = 0,
                     tasks: Iterable[int] | None = None, keep_work: bool = False,
                     max_attempts: int | None = None, record_geometry: bool = False,
                     action_noise: float = 0.0, noise_rate: float = 0.05) -> GenerateResult:
    """Generate `episodes_per_task` successful expert demonstrations per task into `out_root`.

    `suite_name` is a registry name or "module:factory"; `tasks` restricts task ids. Initial conditions:
      - `init_states` given (e.g. range(0, 50) or "0-49", both ends included): the suite's fixed initial
        states, tried in order;
      - `init_states=None`: layouts drawn by the suite from the episode seed (`env.reset(seed=...)` without
        an init_state; for the tabletop these are disjoint from its fixed evaluation states). At most
        `max_attempts` per task (default 3 x episodes_per_task + 5) are tried.
    `record_geometry`: store per camera `observation.depth.<cam>` float32 [H, W] (metric z-depth),
    `observation.segmentation.<cam>` uint8 [H, W] (semantic class), `observation.intrinsics.<cam>` [3, 3] and
    `observation.extrinsics.<cam>` [4, 4] (world-to-camera, OpenCV), for geometry teachers such as oracle3d.
    Suites without segmentation rendering (`supports_geometry` unset, e.g. LIBERO) refuse it.
    `action_noise` > 0 pushes the executed position actions off the expert's path (pushes of that size in
    action units, starting with probability `noise_rate` per moving step) while recording the expert's clean
    actions as labels (DART): demonstrations of recovery.
    """
    start_time = time.time()
    out_root = Path(out_root)
    if out_root.exists():
        raise SFError(f"output {out_root} already exists; choose another --out or remove it")
    if episodes_per_task < 1:
        raise SFError(f"--episodes-per-task must be >= 1, got {episodes_per_task}")
    if isinstance(init_states, str):  # as a plan or the command line writes it
        init_states = parse_int_ranges(init_states, "--init-states")
    suite = load_suite(suite_name)
    if record_geometry and not getattr(suite, "supports_geometry", False):
        raise SFError(f"--record-geometry: suite {suite.name!r} does not render segmentation and camera "
                      f"geometry; only the tabletop suites support it")
    task_ids = list(range(len(suite.tasks))) if tasks is None else [int(t) for t in tasks]
    bad = [t for t in task_ids if not 0 <= t < len(suite.tasks)]
    if bad:
        raise SFError(f"--tasks {bad}: suite {suite.name!r} has tasks 0..{len(suite.tasks) - 1}")
    work = out_root.parent / f"{out_root.name}.work"
    work.mkdir(parents=True, exist_ok=True)
    if action_noise < 0 or not 0 <= noise_rate <= 1:
        raise SFError(f"--action-noise must be >= 0 and --noise-rate in [0, 1], got {action_noise}, {noise_rate}")
    meta = {"suite": suite_name, "seed": seed}
    if action_noise > 0:
        meta.update(action_noise=action_noise, noise_rate=noise_rate)
    _check_work_dir(work, meta)

    fixed = init_states is not None
    if fixed:
        candidates = {t: [i for i in init_states if 0 <= i < suite.num_init_states(t)] for t in task_ids}
    else:
        limit = max_attempts if max_attempts is not None else 3 * episodes_per_task + 5
        candidates = {t: list(range(limit)) for t in task_ids}

    def item(t: int, i: int) -> Item:
        return Item(suite_name, t, i, fixed, _episode_seed(seed, t, i), str(work), image_size,
                    record_geometry, action_noise, noise_rate)

    outcome: dict[tuple[int, int], bool] = {}
    for t in task_ids:
        for i in candidates[t]:
            if rollout_path(work, t, i, fixed).is_file():
                outcome[(t, i)] = bool(load_rollout(rollout_path(work, t, i, fixed))["success"])
    if outcome:
        log.info("resuming: %d rollouts already in %s", len(outcome), work)
    while True:  # phase 1, round by round until every task has enough successes or no candidates left
        todo = []
        for t in task_ids:
            have = sum(outcome.get((t, i), False) for i in candidates[t])
            fresh = [i for i in candidates[t] if (t, i) not in outcome]
            todo += [item(t, i) for i in fresh[: max(episodes_per_task - have, 0)]]
        if not todo:
            break
        for t, i, ok, _ in _run(rollout_episode, todo, workers, "expert rollouts"):
            outcome[(t, i)] = ok

    chosen = {t: [i for i in candidates[t] if outcome.get((t, i), False)][:episodes_per_task]
              for t in task_ids}
    for t in task_ids:
        if len(chosen[t]) < episodes_per_task:
            log.warning("task %d: only %d/%d successful demos after %d attempts", t, len(chosen[t]),
                        episodes_per_task, len(candidates[t]))
    if not any(chosen.values()):
        raise SFError(f"the expert of {suite_name!r} succeeded in no episode; nothing to write")
    todo = [item(t, i) for t in task_ids for i in chosen[t]
            if not render_path(work, t, i, image_size, fixed, record_geometry).is_file()]
    _run(render_episode, todo, workers, "rendering")

    frames = _assemble(suite, out_root, [item(t, i) for t in task_ids for i in chosen[t]])
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    attempts = {t: sum((t, i) in outcome for i in candidates[t]) for t in task_ids}
    successes = {t: sum(outcome.get((t, i), False) for i in candidates[t]) for t in task_ids}
    seeds = {t: [_episode_seed(seed, t, i) for i in chosen[t]] for t in task_ids}
    return GenerateResult(out_root, sum(len(v) for v in chosen.values()), frames, attempts, successes,
                          chosen, seeds, time.time() - start_time)


def _assemble(suite, out_root: Path, items: list[Item]) -> int:
    """Phase 3: write the chosen episodes (task order, then slot order) into the dataset."""
    def parts(it: Item) -> tuple[dict, dict[str, np.ndarray]]:
        roll = load_rollout(rollout_path(it.work_dir, it.task_id, it.slot, it.fixed))
        path = render_path(it.work_dir, it.task_id, it.slot, it.image_size, it.fixed, it.geometry)
        with np.load(path) as z:
            return roll, {k: z[k] for k in z.files}

    probe, probe_obs = parts(items[0])
    cams = sorted((k for k in probe_obs if k.startswith("observation.images.")), key=_cam_order)
    extras = sorted(k for k in probe_obs if k not in cams)  # environment_state, geometry per camera
    s_dim, a_dim = probe["state"].shape[1], probe["action"].shape[1]
    features = {k: fmt.image_feature(*probe_obs[k].shape[1:3]) for k in cams}
    features[fmt.STATE_KEY] = fmt.vector_feature(s_dim, STATE_NAMES if s_dim == 8 else None)
    features[fmt.ACTION_KEY] = fmt.vector_feature(a_dim, ACTION_NAMES if a_dim == 7 else None)
    names = getattr(suite, "feature_names", {})
    for k in extras:
        rows = probe_obs[k]
        features[k] = (fmt.vector_feature(rows.shape[1], names.get(k), str(rows.dtype)) if rows.ndim == 2
                       else fmt.array_feature(rows.shape[1:], str(rows.dtype), names.get(k)))
    fps = int(getattr(suite, "fps", 20))
    total = 0
    robot_type = getattr(suite, "robot_type", suite.name)
    with LeRobotWriter(out_root, fps, features, robot_type=robot_type) as writer:
        for it in tqdm(items, desc="writing dataset", unit="ep"):
            roll, observed = parts(it)
            for step in range(int(roll["steps"])):
                frame = {k: observed[k][step] for k in [*cams, *extras]}
                frame[fmt.STATE_KEY] = roll["state"][step]
                frame[fmt.ACTION_KEY] = roll["action"][step]
                writer.add_frame(frame)
            writer.save_episode(suite.tasks[it.task_id].instruction)
            total += int(roll["steps"])
        writer.finalize()
    return total


def _cam_order(key: str) -> tuple[int, str]:
    """agentview first, wrist second, any other camera after, alphabetically."""
    order = {fmt.image_key("agentview"): 0, fmt.image_key("wrist"): 1}
    return order.get(key, 2), key
