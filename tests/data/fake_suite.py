"""A tiny numpy 'simulator' implementing the Suite protocol, for data-generation tests.

A point (the end effector) moves toward a per-task target; the scripted expert heads for the target
except from fixed initial states i with i % 4 == 3 (and ~35% of seeded random layouts), where it walks away
and fails. Images are drawn from the
state, so replaying saved states reproduces them exactly.
"""

from __future__ import annotations

import numpy as np

from spatial_forcing.sim.suite import TaskSpec

CRASH_AT: tuple[int, int] | None = None  # (task_id, init_state) whose expert raises, to simulate a kill
ROLLOUTS: list[tuple[int, int]] = []  # (task_id, init_state or -1 if random) of camera-less resets


class FakeEnv:
    """Gymnasium-like env over a 3-d point and a gripper."""

    def __init__(self, task_id: int, image_size: int, cameras: bool) -> None:
        self.task_id, self.size, self.cameras = task_id, image_size, cameras
        self.target = np.array([0.5, -0.5 + task_id, 0.2])
        self.pos = np.zeros(3)
        self.grip = 0.0
        self.init_state = 0

    def reset(self, seed: int | None = None, options: dict | None = None):
        options = options or {}
        if "init_state" in options:  # fixed state: the expert fails from states 3, 7, ...
            self.init_state = int(options["init_state"])
            rng = np.random.default_rng(self.init_state)
            self.fails = self.init_state % 4 == 3
        else:  # a random layout from the seed; the expert fails from about a third of them
            self.init_state = -1
            rng = np.random.default_rng(seed)
            self.fails = bool(rng.random() < 0.35)
        self.pos = rng.uniform(-1, 1, 3)
        self.grip = 0.0
        if not self.cameras:
            ROLLOUTS.append((self.task_id, self.init_state))
        return self._obs(), {}

    def _state(self) -> np.ndarray:
        return np.concatenate([self.pos, np.zeros(3), [self.grip, -self.grip]]).astype(np.float32)

    def _obs(self) -> dict:
        obs = {"observation.state": self._state()}
        if self.cameras:
            obs.update(self.render_observation())
        return obs

    def step(self, action: np.ndarray):
        self.pos = self.pos + 0.1 * np.clip(action[:3], -1, 1)
        self.grip = float(action[6])
        success = bool(np.linalg.norm(self.pos - self.target) < 0.08)
        return self._obs(), float(success), success, False, {"success": success}

    def get_sim_state(self) -> dict:
        return {"pos": self.pos.copy(), "grip": self.grip}

    def set_sim_state(self, state: dict) -> None:
        self.pos, self.grip = state["pos"].copy(), float(state["grip"])

    def close(self) -> None:
        self.closed = True

    def render_observation(self) -> dict:
        s = self.size
        agent = np.zeros((s, s, 3), np.uint8)
        agent[..., 2] = 40 * self.task_id
        r, c = (np.clip((self.pos[:2] + 1.5) / 3.0, 0, 0.999) * s).astype(int)
        agent[r, c] = (255, 255, 255)
        wrist = np.full((s, s, 3), int(np.clip(128 + 100 * self.pos[2], 0, 255)), np.uint8)
        return {"observation.images.agentview": agent, "observation.images.wrist": wrist,
                "observation.state": self._state()}


class FakeSuite:
    """Two tasks, 8 initial states each; the expert fails from states 3 and 7."""

    name = "fake"
    fps = 10

    def __init__(self) -> None:
        self.tasks = [TaskSpec("reach_a", "reach the left target", 60),
                      TaskSpec("reach_b", "reach the right target", 60)]

    def num_init_states(self, task_id: int) -> int:
        return 8

    def make_env(self, task_id: int, image_size: int = 128, render_depth: bool = False, cameras: bool = True):
        return FakeEnv(task_id, image_size, cameras)

    def expert(self, env: FakeEnv):
        def act(obs: dict) -> np.ndarray:
            if CRASH_AT == (env.task_id, env.init_state):
                raise RuntimeError("simulated crash")
            direction = env.target - obs["observation.state"][:3]
            if env.fails:
                direction = -direction
            step = direction / max(np.linalg.norm(direction), 1e-6)
            return np.concatenate([step, np.zeros(3), [1.0]]).astype(np.float32)
        return act
