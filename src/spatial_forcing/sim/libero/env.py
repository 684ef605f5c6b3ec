"""A gymnasium wrapper around one LIBERO task with the project's observation conventions."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from spatial_forcing.sim.libero.render import CAMERAS, CameraRenderer  # noqa: E402
from spatial_forcing.utils.errors import SFError  # noqa: E402

log = logging.getLogger(__name__)

LIFT_HEIGHT = 0.05  # the "lifted" sub-goal: the goal object rose this far above its initial height (m)


def quat_xyzw_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """robosuite-convention quaternion (x, y, z, w) -> axis-angle (3), as the reference eval computes it."""
    q = np.asarray(q, dtype=np.float64)
    w = float(np.clip(q[3], -1.0, 1.0))
    den = np.sqrt(1.0 - w * w)
    if den < 1e-9:
        return np.zeros(3)
    return q[:3] * 2.0 * np.arccos(w) / den


class LiberoEnv(gym.Env):
    """One LIBERO task. `reset(options={"init_state": i})` loads the suite's fixed initial state i.

    Physics runs in LIBERO's `ControlEnv` (robosuite OSC_POSE, 20 Hz) with robosuite's own camera
    observables switched off; images come from `CameraRenderer` (bit-identical to robosuite's when
    `fast_render=False`). No settle/wait steps happen here: the evaluation protocol's
    `num_steps_wait` dummy actions belong to the rollout loop (and to the expert).
    """

    metadata = {"render_modes": []}

    def __init__(self, bddl_file: str, init_states: np.ndarray, instruction: str, image_size: int = 128,
                 render_depth: bool = False, cameras: bool = True, fast_render: bool = True):
        from libero.libero.envs.env_wrapper import ControlEnv

        self.instruction = instruction
        self.init_states = np.asarray(init_states)
        self.image_size = image_size
        self.cameras = cameras
        self.render_depth = render_depth and cameras
        # hard_reset=False: no model rebuild on reset (seconds saved); the init state overwrites qpos/qvel.
        self.libero = ControlEnv(bddl_file_name=bddl_file, use_camera_obs=False, has_renderer=False,
                                 has_offscreen_renderer=False, hard_reset=False,
                                 camera_heights=image_size, camera_widths=image_size)
        self.renderer = (CameraRenderer(self.sim.model._model, image_size, fast=fast_render,
                                        depth=self.render_depth) if cameras else None)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (7,), np.float32)
        self.observation_space = gym.spaces.Dict(self._obs_spaces())
        self._raw: dict = {}
        self._lift_body, self._lift_z0, self._lifted = self._goal_object(), 0.0, False
        self.episode_id = 0  # incremented by every reset (lets stateful experts notice new episodes)

    def _goal_object(self) -> int | None:
        """Body id of the object a pick-and-place goal ("On"/"In" X Y) moves, else None."""
        goal = self.libero.env.parsed_problem["goal_state"]
        if len(goal) == 1 and goal[0][0].lower() in ("on", "in"):
            return int(self.libero.env.obj_body_id[goal[0][1]])
        return None

    @property
    def sim(self):
        """The robosuite MjSim (privileged access for experts)."""
        return self.libero.sim

    def _obs_spaces(self) -> dict[str, gym.Space]:
        s, box = self.image_size, gym.spaces.Box
        spaces: dict[str, gym.Space] = {"observation.state": box(-np.inf, np.inf, (8,), np.float32)}
        if self.cameras:
            for view in CAMERAS:
                spaces[f"observation.images.{view}"] = box(0, 255, (s, s, 3), np.uint8)
                if self.render_depth:
                    spaces[f"observation.depth.{view}"] = box(0, np.inf, (s, s), np.float32)
                    spaces[f"observation.intrinsics.{view}"] = box(-np.inf, np.inf, (3, 3), np.float32)
                    spaces[f"observation.extrinsics.{view}"] = box(-np.inf, np.inf, (4, 4), np.float32)
        return spaces

    def _obs(self) -> dict[str, np.ndarray]:
        raw = self._raw
        state = np.concatenate([raw["robot0_eef_pos"], quat_xyzw_to_axis_angle(raw["robot0_eef_quat"]),
                                raw["robot0_gripper_qpos"]]).astype(np.float32)
        obs = {"observation.state": state}
        if self.renderer is not None:
            obs.update(self.renderer.render(self.sim.data._data))
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset to fixed init state `options["init_state"]` (default: drawn with `seed`)."""
        super().reset(seed=seed)
        options = options or {}
        idx = options.get("init_state")
        if idx is None:
            idx = int(self.np_random.integers(len(self.init_states)))
        if not 0 <= idx < len(self.init_states):
            raise SFError(f"init_state {idx} out of range; expected 0..{len(self.init_states) - 1}")
        self.libero.reset()
        for robot in self.libero.env.robots:  # hard_reset=False keeps the gripper's accumulated command
            robot.gripper.current_action = np.zeros(robot.gripper.dof)
        self.episode_id += 1
        self._raw = self.libero.set_init_state(self.init_states[idx])
        if self._lift_body is not None:
            self._lift_z0, self._lifted = float(self.sim.data._data.xpos[self._lift_body][2]), False
        return self._obs(), {"init_state": int(idx), "instruction": self.instruction}

    def step(self, action):
        """Apply a 7-d OSC_POSE delta action; reward = success (0/1), terminated on success.

        `info["lifted"]` (pick-and-place goals): the moved object has been 5 cm above its start in this
        episode; `sf eval` reports its rate beside success (a grasp vs placement diagnosis)."""
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(7), -1.0, 1.0)
        self._raw, _, _, _ = self.libero.step(action)
        success = bool(self.libero.check_success())
        info = {"success": success}
        if self._lift_body is not None:  # sub-goal: the goal object was lifted 5 cm at some point
            z = float(self.sim.data._data.xpos[self._lift_body][2])
            self._lifted = self._lifted or z - self._lift_z0 > LIFT_HEIGHT
            info["lifted"] = self._lifted
        return self._obs(), float(success), success, False, info

    def check_success(self) -> bool:
        """LIBERO's goal predicate on the current state."""
        return bool(self.libero.check_success())

    def get_sim_state(self) -> np.ndarray:
        """Flattened MuJoCo state (time, qpos, qvel): the same layout as the suite's init states."""
        return np.array(self.libero.get_sim_state())

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a state from `get_sim_state` (observables and success cache refreshed)."""
        self._raw = self.libero.regenerate_obs_from_state(np.asarray(state))

    def render_observation(self) -> dict[str, np.ndarray]:
        """The observation of the current simulator state (for replay rendering of recorded states)."""
        return self._obs()

    def close(self) -> None:
        """Free the renderer and the simulator."""
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
        if getattr(self, "libero", None) is not None:
            self.libero.close()
            self.libero = None
