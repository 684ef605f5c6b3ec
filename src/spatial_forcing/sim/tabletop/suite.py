"""`TabletopSuite`: the tabletop tasks behind the `Suite` protocol (registered as "tabletop")."""

from __future__ import annotations

from typing import Callable

import numpy as np

from spatial_forcing.sim.suite import TaskSpec
from spatial_forcing.sim.tabletop.env import (ENV_STATE_KEY, EVAL_SEED, NUM_INIT_STATES, TRAIN_SEED,
                                              TabletopEnv)
from spatial_forcing.sim.tabletop.expert import ScriptedExpert
from spatial_forcing.sim.tabletop.semantics import ENV_STATE_NAMES
from spatial_forcing.sim.tabletop.tasks import TASKS
from spatial_forcing.utils.errors import SFError


# split -> (root seed of its initial states, states per task). "eval" holds the 50 fixed evaluation states;
# "train" is a disjoint pool for demonstrations, so that no policy is evaluated on a layout it was shown.
SPLITS = {"eval": (EVAL_SEED, NUM_INIT_STATES), "train": (TRAIN_SEED, 200)}


class TabletopSuite:
    """Eight spatial-relation pick-and-place tasks and two one-block rungs below them (8: pick and place,
    9: lift), with fixed initial states ("tabletop": the 50 evaluation states per task; "tabletop_train":
    200 other states per task, for demonstrations)."""

    supports_geometry = True  # render_depth envs give segmentation too: sf generate --record-geometry
    feature_names = {ENV_STATE_KEY: ENV_STATE_NAMES}  # per-column names of dataset features (meta/info.json)

    def __init__(self, split: str = "eval") -> None:
        if split not in SPLITS:
            raise SFError(f"tabletop split {split!r}; expected one of {sorted(SPLITS)}")
        self.split = split
        self.name = "tabletop" if split == "eval" else f"tabletop_{split}"
        self._seed, self._count = SPLITS[split]
        self.tasks: list[TaskSpec] = [t.spec for t in TASKS]

    def num_init_states(self, task_id: int) -> int:
        """Fixed initial states per task (the same for all tasks)."""
        self._check(task_id)
        return self._count

    def make_env(self, task_id: int, image_size: int = 128, render_depth: bool = False,
                 cameras: bool = True) -> TabletopEnv:
        """A `TabletopEnv` for task `task_id`."""
        self._check(task_id)
        return TabletopEnv(task_id, image_size=image_size, render_depth=render_depth, cameras=cameras,
                           init_seed=self._seed, num_init_states=self._count)

    def expert(self, env: TabletopEnv) -> Callable[[dict], np.ndarray]:
        """The privileged scripted expert bound to `env`."""
        return ScriptedExpert(env)

    def _check(self, task_id: int) -> None:
        if not 0 <= task_id < len(self.tasks):
            raise SFError(f"tabletop task id {task_id} out of range; expected 0..{len(self.tasks) - 1}")
