"""`TabletopEnv`: a gymnasium env for one tabletop task, LIBERO-shaped observations and actions.

Actions (float32 [7], clipped to [-1, 1]):
  - [0:3] delta TCP position, POS_SCALE metres per unit per step, applied to the mocap target (which is
    kept within MAX_LEAD of the actual TCP and inside the workspace box);
  - [3:5] roll/pitch deltas are IGNORED (the gripper always points down);
  - [5] delta yaw, ROT_SCALE rad per unit per step, yaw limited to +-YAW_LIMIT;
  - [6] gripper: -1 open ... +1 closed (linear in between).
Control runs at 1 / (SUBSTEPS * TIMESTEP) = 20 Hz. An episode terminates (terminated=True) as soon as the
task's success predicate holds and truncates after the task's max_steps. Reward is 1.0 on success else 0.0.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco  # noqa: E402

from spatial_forcing.sim.tabletop import layouts, render, scene, semantics  # noqa: E402
from spatial_forcing.sim.tabletop.success import SuccessCheck  # noqa: E402
from spatial_forcing.sim.tabletop.tasks import TASKS  # noqa: E402
from spatial_forcing.utils.errors import SFError  # noqa: E402

SUBSTEPS = 25  # physics steps per env step (25 x 2 ms = 50 ms, 20 Hz control)
POS_SCALE = 0.02  # metres of TCP motion per action unit per step
ROT_SCALE = 0.1  # radians of yaw per action unit per step
YAW_LIMIT = np.pi / 2  # |yaw| bound (rad)
MAX_LEAD = 0.03  # max distance of the mocap target from the actual TCP (m), prevents wind-up
WORKSPACE_LO = np.array([-0.3, -0.3, 0.015])  # TCP target bounds (m)
WORKSPACE_HI = np.array([0.3, 0.3, 0.3])
SETTLE_STEPS = 100  # physics steps run when building an initial state
EVAL_SEED = 20260  # root seed of the fixed initial states
TRAIN_SEED = 777  # root seed of the demonstration initial states (disjoint from evaluation)
NUM_INIT_STATES = 50  # fixed initial states per task (LIBERO style)
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION  # full simulator state for save/restore
ENV_STATE_KEY = "observation.environment_state"  # object positions, canonical slots (semantics.SLOTS)


class NanBox(gym.spaces.Box):
    """A float Box whose entries may also be NaN (environment_state marks absent objects with NaN)."""

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return super().contains(np.where(np.isnan(x), self.low, x).astype(x.dtype))


class TabletopEnv(gym.Env):
    """One task of the tabletop suite. `reset(options={"init_state": i})` uses fixed state i; without it
    a fresh random layout is drawn from the env's RNG (use this for training demos, disjoint from the
    evaluation states)."""

    metadata = {"render_modes": []}

    def __init__(self, task_id: int, image_size: int = 128, render_depth: bool = False, cameras: bool = True,
                 init_seed: int = EVAL_SEED, num_init_states: int = NUM_INIT_STATES):
        if not 0 <= task_id < len(TASKS):
            raise SFError(f"tabletop task id {task_id} out of range; expected 0..{len(TASKS) - 1}")
        if image_size < 16:
            raise SFError(f"image_size {image_size} too small; expected >= 16")
        self.task_id = task_id
        self.task = TASKS[task_id]
        self.instruction = self.task.spec.instruction
        self.max_steps = self.task.spec.max_steps
        self.family = layouts.FAMILIES[self.task.family]
        self.image_size, self.render_depth, self.cameras = int(image_size), bool(render_depth), bool(cameras)
        self.model = mujoco.MjModel.from_xml_string(scene.build_mjcf(self.family.props, self.image_size))
        self.data = mujoco.MjData(self.model)
        self._tcp = self.model.site("tcp").id
        self._hand = self.model.body("hand").id
        self._finger_q = [self.model.joint(f"finger_{s}").qposadr[0] for s in "rl"]
        mocap_names = ("gripper_target",) + tuple(n for n in self.family.props if not scene.PROPS[n].movable)
        self._mocap = {n: self.model.body_mocapid[self.model.body(n).id] for n in mocap_names}
        movable = [n for n in self.family.props if scene.PROPS[n].movable]
        self._free_q = {n: self.model.joint(n).qposadr[0] for n in movable}
        self._init_data = mujoco.MjData(self.model)
        self.init_states = np.stack([self._layout_state(layouts.sample_layout(
            self.family, np.random.default_rng([init_seed, task_id, i]))) for i in range(num_init_states)])
        self.success_check = SuccessCheck(self.model)
        self.observation_space = self._make_obs_space()
        self.action_space = gym.spaces.Box(-1.0, 1.0, (7,), np.float32)
        self._views = render.CameraViews(self.model, self.image_size, self.render_depth) if cameras else None
        self.pick, self.place = "", ""
        self.elapsed = 0
        self.episode_id = 0

    # ----- spaces and state -------------------------------------------------------------------------------
    def _make_obs_space(self) -> gym.spaces.Dict:
        s = self.image_size
        def unbounded(shape: tuple[int, ...]) -> gym.spaces.Box:
            return gym.spaces.Box(-np.inf, np.inf, shape, np.float32)

        slots = len(semantics.ENV_STATE_NAMES)
        spaces: dict[str, gym.Space] = {"observation.state": unbounded((8,)),
                                        ENV_STATE_KEY: NanBox(-np.inf, np.inf, (slots,), np.float32)}
        if self.cameras:
            for cam in render.CAMERAS:
                spaces[f"observation.images.{cam}"] = gym.spaces.Box(0, 255, (s, s, 3), np.uint8)
                if self.render_depth:
                    spaces[f"observation.depth.{cam}"] = gym.spaces.Box(0, np.inf, (s, s), np.float32)
                    spaces[f"observation.segmentation.{cam}"] = gym.spaces.Box(
                        0, semantics.NUM_CLASSES - 1, (s, s), np.uint8)
                    spaces[f"observation.intrinsics.{cam}"] = unbounded((3, 3))
                    spaces[f"observation.extrinsics.{cam}"] = unbounded((4, 4))
        return gym.spaces.Dict(spaces)

    def get_sim_state(self, data: mujoco.MjData | None = None) -> np.ndarray:
        """Full simulator state (time, qpos, qvel, act, warm start, ctrl, mocap, ...) as float64 [D]."""
        data = self.data if data is None else data
        state = np.empty(mujoco.mj_stateSize(self.model, STATE_SPEC))
        mujoco.mj_getState(self.model, data, state, STATE_SPEC)
        return state

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a state from `get_sim_state` and recompute derived quantities (poses, contacts)."""
        mujoco.mj_setState(self.model, self.data, np.asarray(state, np.float64), STATE_SPEC)
        mujoco.mj_forward(self.model, self.data)

    def _layout_state(self, layout: layouts.Layout) -> np.ndarray:
        """Place props per `layout`, gripper at home and open, settle, and return the full state."""
        d = self._init_data
        mujoco.mj_resetData(self.model, d)
        for name, (x, y, z, yaw) in layout.items():
            quat = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
            if name in self._free_q:
                adr = self._free_q[name]
                d.qpos[adr:adr + 7] = [x, y, z + scene.PROPS[name].size[-1], *quat]
            else:
                d.mocap_pos[self._mocap[name]] = [x, y, z]
                d.mocap_quat[self._mocap[name]] = quat
        d.ctrl[:] = scene.FINGER_OPEN
        for q in self._finger_q:
            d.qpos[q] = scene.FINGER_OPEN
        mujoco.mj_forward(self.model, d)
        for _ in range(SETTLE_STEPS):
            mujoco.mj_step(self.model, d)
        d.time = 0.0
        return self.get_sim_state(d)

    # ----- gymnasium API ----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "init_state" in options:
            i = int(options["init_state"])
            if not 0 <= i < len(self.init_states):
                raise SFError(f"init_state {i} out of range; expected 0..{len(self.init_states) - 1}")
            state = self.init_states[i]
        else:
            state = self._layout_state(layouts.sample_layout(self.family, self.np_random))
        self.set_sim_state(state)
        self.pick, self.place = self.task.choose(self.prop_positions())
        if (self.task.goal == "lift") != (self.place == ""):
            raise SFError(f"task {self.task.spec.name}: goal {self.task.goal!r} but place {self.place!r}")
        self._pick_z0 = float(self.prop_positions()[self.pick][2])
        self.picked = False  # has the instructed block been lifted 3 cm (a sub-goal, for diagnostics)?
        self.elapsed = 0
        self.episode_id += 1
        return self._observation(render_images=self.cameras), {"success": False}

    def step(self, action):
        a = np.clip(np.asarray(action, np.float64).reshape(7), -1.0, 1.0)
        d, k = self.data, self._mocap["gripper_target"]
        tcp = d.site_xpos[self._tcp]
        target = d.mocap_pos[k] + a[:3] * POS_SCALE
        target = np.clip(tcp + np.clip(target - tcp, -MAX_LEAD, MAX_LEAD), WORKSPACE_LO, WORKSPACE_HI)
        d.mocap_pos[k] = target
        yaw = np.clip(self.target_yaw() + a[5] * ROT_SCALE, -YAW_LIMIT, YAW_LIMIT)
        d.mocap_quat[k] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        d.ctrl[:] = scene.FINGER_OPEN * (1.0 - a[6]) / 2.0
        mujoco.mj_step(self.model, d, nstep=SUBSTEPS)
        mujoco.mj_forward(self.model, d)  # fresh contacts/poses for the observation and the predicate
        self.elapsed += 1
        success = self.is_success()
        self.picked |= bool(self.data.xpos[self.model.body(self.pick).id][2] > self._pick_z0 + 0.03)
        truncated = self.elapsed >= self.max_steps and not success
        obs = self._observation(render_images=self.cameras)
        return obs, float(success), success, truncated, {"success": success, "picked": self.picked}

    def close(self) -> None:
        """Free the renderer (GL context)."""
        if self._views is not None:
            self._views.close()
            self._views = None

    # ----- helpers ---------------------------------------------------------------------------------------
    def target_yaw(self) -> float:
        """Yaw of the mocap target (rad)."""
        q = self.data.mocap_quat[self._mocap["gripper_target"]]
        return float(2.0 * np.arctan2(q[3], q[0]))

    def target_position(self) -> np.ndarray:
        """Position of the mocap target the TCP is welded to (m)."""
        return self.data.mocap_pos[self._mocap["gripper_target"]].copy()

    def prop_positions(self) -> dict[str, np.ndarray]:
        """World position of every prop's body (block centres; landmark bases on the table)."""
        return {n: self.data.xpos[self.model.body(n).id].copy() for n in self.family.props}

    def is_success(self) -> bool:
        """The task predicate: picked block resting on the target, gripper released (or, for a lift task,
        held LIFT_HEIGHT above where it stood)."""
        if self.task.goal == "lift":
            return self.success_check.lifted(self.data, self.pick, self._pick_z0)
        return self.success_check(self.data, self.pick, self.place)

    def render_observation(self) -> dict[str, np.ndarray]:
        """The observation (with images) for the current state; creates a renderer if the env has none."""
        if self._views is None:
            self._views = render.CameraViews(self.model, self.image_size, self.render_depth)
        return self._observation(render_images=True)

    def _observation(self, render_images: bool) -> dict[str, np.ndarray]:
        d = self.data
        quat = d.xquat[self._hand].copy()
        if quat[0] < 0:
            quat = -quat
        axis_angle = np.zeros(3)
        mujoco.mju_quat2Vel(axis_angle, quat, 1.0)
        fingers = [d.qpos[q] for q in self._finger_q]
        state = np.concatenate([d.site_xpos[self._tcp], axis_angle, fingers]).astype(np.float32)
        obs = {"observation.state": state, ENV_STATE_KEY: semantics.environment_state(self.prop_positions())}
        if render_images:
            obs.update(self._views.render(d))
        return obs
