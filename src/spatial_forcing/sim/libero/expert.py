"""Privileged scripted pick-and-place expert for LIBERO-Spatial (bowl -> plate) and LIBERO-Object
(grocery item -> basket). It reads the goal from the BDDL problem and poses from the MuJoCo state.

Bowls are grasped by their rim (the collision wall sits 4.7 cm from the bowl axis), fingers closing
radially; the rim side is chosen by the clearance of the outer finger to surrounding geoms, preferring
a raised rim, and the approach follows the bowl's tilt up to `max_tilt` (task 5: bowl resting tilted
on the ramekin). Grocery items are grasped from the top across their narrower horizontal side, turned
by up to 45 degrees when a neighbour blocks a finger. The object is lifted above nearby walls (drawer)
and the target (pulled out horizontally first when something hangs over it, e.g. the cabinet frame
above an open drawer: upward rays from the object's top), carried over the target and released. Rim
sides whose outer finger would land on a wall (downward rays) are avoided. A closed-loop state
machine re-targets every step and retries the grasp on another side when the object is lost or the
arm stalls far from the pre-grasp pose. The fingers turn the way that keeps the wrist joint in range
(a side at the workspace edge otherwise stalls the arm at its limit). Bowls are lowered to just above
the plate's surface (a downward ray finds it below the rim), held until still, aimed slightly towards
their tilt (a rim-held bowl hangs tilted and rights itself when released), then let go.

Grasp selection lives in `grasp.py`, the tunable constants in `expert_config.py`.

The first `settle_steps` actions are LIBERO's dummy action (the evaluation protocol's wait steps), so
recorded demonstrations start like evaluation episodes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from spatial_forcing.sim.libero import geometry as geo
from spatial_forcing.sim.libero.expert_config import ExpertConfig
from spatial_forcing.sim.libero.grasp import GraspChoice
from spatial_forcing.utils.errors import SFError

__all__ = ["ExpertConfig", "PickPlaceExpert", "make_expert"]


class PickPlaceExpert(GraspChoice):
    """Callable obs -> 7-d action for one LiberoEnv (state kept across calls; reset by the env reset)."""

    def __init__(self, env, cfg: ExpertConfig | None = None):
        self.env, self.cfg = env, cfg or ExpertConfig()
        le = env.libero.env
        goal = le.parsed_problem["goal_state"][0]
        self.obj_name = goal[1]
        self.target_name = goal[2].replace("_contain_region", "")
        self.model, self.data = env.sim.model._model, env.sim.data._data
        self.obj_id = le.obj_body_id[self.obj_name]
        self.target_id = le.obj_body_id[self.target_name]
        self.obj_geoms = geo.subtree_geoms(self.model, self.obj_id)
        self.target_geoms = geo.subtree_geoms(self.model, self.target_id)
        robot = le.robots[0]
        self.eef_site = robot.eef_site_id
        self.gripper_qpos = list(robot._ref_gripper_joint_pos_indexes)
        self.fingers = [self.model.body(n).id for n in ("gripper0_leftfinger", "gripper0_rightfinger")]
        self.wrist_joint = int(self.model.joint(robot.robot_joints[-1]).id)
        self.wrist_qpos = int(self.model.jnt_qposadr[self.wrist_joint])
        robot_bodies = {b for b in range(self.model.nbody)
                        if self.model.body(b).name.startswith(("robot0", "gripper0", "mount0"))}
        own = set(self.obj_geoms.tolist())
        others = [g for g in range(self.model.ngeom) if self.model.geom_bodyid[g] not in robot_bodies
                  and g not in own and self.model.geom_bodyid[g] != 0]
        self.other_geoms = np.array(others, dtype=int)
        self.ignore_bodies = robot_bodies | {int(self.model.geom_bodyid[g]) for g in self.obj_geoms}
        self.is_bowl = "bowl" in self.obj_name
        self.reset()

    def reset(self) -> None:
        """Start a new episode."""
        self.phase, self.t = "settle", 0
        self.episode = self.env.episode_id
        self.side: np.ndarray | None = None
        self.tried: list[np.ndarray] = []  # closing directions already tried (objects)
        self.tried_sides: list[np.ndarray] = []  # rim sides already tried (bowls): stalled or lost there
        self._finger: tuple[np.ndarray, float] | None = None  # (grasp axis, chosen finger direction sign)

    # ---- geometry -------------------------------------------------------------------------------
    def _eef(self) -> np.ndarray:
        return self.data.site_xpos[self.eef_site].copy()

    def _action(self, target: np.ndarray, axis: np.ndarray | None, grip: float,
                up: np.ndarray | None = None) -> np.ndarray:
        """P-control to `target`; gripper pointing along -up (default: world down), fingers along axis."""
        act = np.zeros(7)
        act[:3] = np.clip(self.cfg.pos_gain * (target - self._eef()), -1, 1)
        act[3:6] = np.clip(self.cfg.rot_gain * self._rot_error(axis, up), -1, 1)
        act[6] = grip
        return act

    def _rot_error(self, axis: np.ndarray | None, up: np.ndarray | None) -> np.ndarray:
        """World-frame axis-angle taking the gripper frame to the desired one (site x: finger axis)."""
        rot = self.data.site_xmat[self.eef_site].reshape(3, 3)
        z = -(np.array([0.0, 0.0, 1.0]) if up is None else up)
        x = rot[:, 0] if axis is None else np.asarray(axis, dtype=float)
        x = x - z * (x @ z)
        x = x / max(np.linalg.norm(x), 1e-9)

        def turn(v: np.ndarray) -> np.ndarray:  # rotation taking the gripper to fingers along v, pointing -z
            return geo.axis_angle(np.stack([v, np.cross(z, v), z], axis=1) @ rot.T)

        if axis is None:
            return turn(x)
        # the two finger directions are equivalent. Which one is decided once per grasp axis (switching
        # mid-turn makes the hand turn back): the smaller turn, unless it would take the wrist (the last
        # arm joint) near its range limit; the other joints also turn the hand as the arm moves, so the
        # margin is wide. Without this a rim side at the workspace edge stalls the arm at the joint limit.
        if self._finger is None or abs(self._finger[0] @ x) < np.cos(np.pi / 6):
            errors = [turn(x), turn(-x)]
            q, (lo, hi) = self.data.qpos[self.wrist_qpos], self.model.jnt_range[self.wrist_joint]
            ends = [q + e @ self.data.xaxis[self.wrist_joint] for e in errors]  # wrist angle after the turn
            margin = self.cfg.wrist_margin
            cost = [max(lo + margin - q_end, q_end - (hi - margin), 0.0) * 10 + np.linalg.norm(e)
                    for e, q_end in zip(errors, ends)]
            self._finger = (x, 1.0 if cost[0] <= cost[1] else -1.0)
        ref, sign = self._finger
        return turn(sign * x if (x @ ref) > 0 else -sign * x)

    def _next(self, phase: str) -> None:
        self.phase, self.t = phase, 0

    def __call__(self, obs: dict) -> np.ndarray:
        if self.episode != self.env.episode_id:  # the env was reset since the last call
            self.reset()
        c, eef = self.cfg, self._eef()
        self.t += 1
        if self.phase == "settle":
            if self.t >= c.settle_steps:
                self._next("approach")
            return np.array([0, 0, 0, 0, 0, 0, -1.0])
        if self.phase in ("approach", "descend"):
            point, axis, up = self._grasp()
            if self.phase == "approach":
                target = point + c.hover * (np.array([0.0, 0.0, 1.0]) if up is None else up)
                aligned = np.linalg.norm(self._rot_error(axis, up)) < c.approach_rot_tol
                if self.t == 1:  # first step of this approach (also after a side retry)
                    self.progress = []
                self.progress.append(np.linalg.norm(target - eef))
                w = c.stall_window
                stalled = (len(self.progress) > 2 * w and self.progress[-w] - self.progress[-1] < c.stall_progress
                           and self.progress[-1] > c.stall_distance)
                if stalled and self.is_bowl and len(self.tried_sides) < 2:
                    self._retry_side()  # this rim side is out of reach: approach another
                    return self._action(eef, None, -1.0)
                if (np.linalg.norm(target - eef) < c.approach_tol and aligned) or self.t > c.max_phase_steps:
                    self._next("descend")
                    self.progress = []
            else:
                target = point
                self.progress.append(np.linalg.norm(target - eef))
                stalled = len(self.progress) > 6 and self.progress[-6] - self.progress[-1] < 0.002
                if self.progress[-1] < 0.006 or stalled or self.t > c.max_phase_steps:
                    self._next("close")
                    self.hold, self.hold_axis, self.hold_up = point, axis, up
            return self._action(target, axis, -1.0, up)
        if self.phase == "close":
            if self.t >= c.close_steps:
                self.grip_offset = self.data.xpos[self.obj_id] - eef
                self.obstacle_top = self._obstacle_top()
                self.escape = self._escape()
                self._next("pull" if self.escape is not None else "lift")
                if self.escape is not None:
                    self.hold = self.hold + self.escape
            return self._action(self.hold, self.hold_axis, 1.0, self.hold_up)
        obj_lo, _ = geo.world_box(self.model, self.data, self.obj_geoms)
        t_lo, t_hi = geo.world_box(self.model, self.data, self.target_geoms)
        if self.phase in ("pull", "lift", "transport", "lower", "place"):
            drift = np.linalg.norm(self.data.xpos[self.obj_id] - eef - self.grip_offset)
            if drift > c.lost_drift or self._gripper_width() < 0.0015:
                self._retry_side(remember=False)  # lost it: grasp again (a rim often holds the second time)
                self._next("reopen")
                return self._action(eef + [0, 0, 0.05], None, -1.0)
        goal_xy = self._goal_xy(t_lo, t_hi)
        place_z = self._surface_z(goal_xy, t_hi[2]) + c.place_gap if self.is_bowl else t_lo[2] + 0.07
        clear_top = max(t_hi[2], self.obstacle_top)
        carry_z = eef[2] + (clear_top + c.lift_clear + (0.03 if self.is_bowl else 0.0) - obj_lo[2])
        if self.phase == "pull":  # slide out from under an overhang first (object in a drawer)
            if np.linalg.norm(self.hold[:2] - eef[:2]) < 0.006 or self.t > c.max_phase_steps // 2:
                self._next("lift")
            return self._action(self.hold, None, 1.0)
        if self.phase == "lift":
            target = np.array([self.hold[0], self.hold[1], max(carry_z, self.hold[2] + 0.08)])
            if target[2] - eef[2] < c.carry_tol or self.t > c.max_phase_steps:
                self._next("transport")
            return self._action(target, None, 1.0)
        shift = goal_xy - self.data.xpos[self.obj_id][:2]
        if self.phase == "transport":
            target = np.array([eef[0] + shift[0], eef[1] + shift[1], max(carry_z, eef[2] - 0.01)])
            if np.linalg.norm(shift) < c.carry_tol or self.t > c.max_phase_steps:
                self._next("lower")
                self.progress = []
            return self._action(target, None, 1.0)
        if self.phase == "lower":
            down = place_z - c.lower_overshoot - obj_lo[2]  # aim a little lower: P-control converges faster
            target = np.array([eef[0] + shift[0], eef[1] + shift[1], eef[2] + down])
            self.progress.append(obj_lo[2])
            # resting on the target already
            resting = len(self.progress) > 4 and self.progress[-5] - self.progress[-1] < 0.002
            if abs(place_z - obj_lo[2]) < 0.008 or resting or self.t > c.max_phase_steps:
                self._next("place")
            return self._action(target, None, 1.0)
        if self.phase == "place":  # hold at the release height until the object is still and centred
            self.progress.append(obj_lo[2])
            speed = abs(self.progress[-2] - self.progress[-1])
            target = np.array([eef[0] + shift[0], eef[1] + shift[1], eef[2] + (place_z - obj_lo[2])])
            if (speed < c.place_speed and np.linalg.norm(shift) < c.place_align) or self.t >= c.place_hold_steps:
                self._next("release")
            return self._action(target, None, 1.0)
        if self.phase in ("release", "reopen"):
            if self.t >= c.release_steps:
                self._next("retreat" if self.phase == "release" else "approach")
            return np.array([0, 0, 0, 0, 0, 0, -1.0])
        return self._action(eef + [0, 0, 0.05], None, -1.0)  # retreat

    def _obstacle_top(self) -> float:
        """Highest top of the geoms around the grasped object (e.g. drawer walls) that it must clear."""
        lo, hi = geo.geom_world_boxes(self.model, self.data, self.other_geoms)
        obj_lo, obj_hi = geo.world_box(self.model, self.data, self.obj_geoms)
        near = np.all(lo[:, :2] < obj_hi[:2] + self.cfg.obstacle_margin, axis=1) & \
            np.all(hi[:, :2] > obj_lo[:2] - self.cfg.obstacle_margin, axis=1)
        near &= hi[:, 2] - lo[:, 2] < 0.5  # ignore the table / floor and other large structures
        near &= lo[:, 2] < obj_hi[2]  # overhangs were pulled clear of (objects on a cabinet above a drawer)
        return float(hi[near, 2].max()) if near.any() else float(obj_lo[2])

    def _escape(self) -> np.ndarray | None:
        """Pull (world offset) that takes the grasped object out from under an overhang, or None."""
        c = self.cfg
        return geo.escape_shift(self.model, self.data, self.obj_geoms, self.ignore_bodies, c.escape_reach,
                                c.escape_max, c.escape_lift)

    def _surface_z(self, xy: np.ndarray, top: float) -> float:
        """Height of the target's surface under `xy` (a plate's centre sits below its rim), by a ray."""
        start = np.array([xy[0], xy[1], top + 0.05])
        dist = geo.ray_distance(self.model, self.data, start, np.array([0.0, 0.0, -1.0]), self.ignore_bodies, 0.1)
        return top if not np.isfinite(dist) else min(top, float(start[2] - dist))

    def _goal_xy(self, t_lo: np.ndarray, t_hi: np.ndarray) -> np.ndarray:
        if self.is_bowl:  # a rim-held bowl hangs tilted; released, it rights itself towards its low side
            up = self.data.xmat[self.obj_id].reshape(3, 3)[:, 2]
            return self.data.xpos[self.target_id][:2] + self.cfg.tilt_lead * up[:2]
        return (t_lo[:2] + t_hi[:2]) / 2

    def _gripper_width(self) -> float:
        """Finger opening from the gripper joint positions (about 0 when closed on nothing)."""
        return float(np.abs(self.data.qpos[self.gripper_qpos]).sum())


def make_expert(env, cfg: ExpertConfig | None = None) -> Callable[[dict], np.ndarray]:
    """The scripted expert for a LIBERO pick-and-place env (spatial or object suite)."""
    goal = env.libero.env.parsed_problem["goal_state"]
    if len(goal) != 1 or goal[0][0].lower() not in ("on", "in"):
        raise SFError(f"LIBERO scripted expert: only single On/In goals (pick and place), this task has {goal}")
    return PickPlaceExpert(env, cfg)
