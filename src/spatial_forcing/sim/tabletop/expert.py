"""A privileged scripted expert for the tabletop tasks.

It reads the block and target poses from the simulator at the start of each episode and follows one fixed
sequence of straight, constant-speed segments (chunk-friendly): above the block, down, close, up, across,
down onto the target, open, up (a lift task stops after "up"). Yaw is never commanded (action[3:6] = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial_forcing.sim.tabletop import scene
from spatial_forcing.sim.tabletop.env import POS_SCALE, TabletopEnv

SPEED = 0.015  # TCP speed (m per step) along straight segments; 0.75 action units
HOVER_Z = 0.17  # travel height of the TCP (m), clears the tall box with a block on it
RELEASE_GAP = 0.012  # block bottom height above the target top when released (m)
ARRIVE_TOL = 0.006  # actual TCP must be this close to a waypoint before moving on (m)
CLOSE_STEPS = 2  # steps spent closing the fingers: they settle on the block in 2; any longer wait is a
# stretch of identical observations with changing labels (close, close, ..., lift) that no policy can learn
OPEN_STEPS = 4  # steps spent opening the fingers


@dataclass
class Phase:
    """Either move the TCP to `target` (when `wait` is 0) or hold still for `wait` steps."""

    target: np.ndarray  # TCP waypoint (m)
    gripper: float  # -1 open, +1 closed
    wait: int = 0  # hold for this many steps instead of moving


class ScriptedExpert:
    """Callable `obs -> action [7]`; re-plans automatically when its env starts a new episode."""

    def __init__(self, env: TabletopEnv):
        self.env = getattr(env, "unwrapped", env)
        self._episode = -1
        self._phases: list[Phase] = []
        self._waited = 0

    def plan(self) -> list[Phase]:
        """Waypoints from the current poses of the block to pick and the target to place it on."""
        env = self.env
        poses = env.prop_positions()
        block = poses[env.pick]
        above_block = np.array([block[0], block[1], HOVER_Z])
        grasp = [
            Phase(above_block, -1.0),
            Phase(block.copy(), -1.0),
            Phase(block.copy(), 1.0, wait=CLOSE_STEPS),
            Phase(above_block, 1.0),
        ]
        if env.task.goal == "lift":  # done once the block is up
            return grasp
        base = poses[env.place]
        place_z = base[2] + scene.PROPS[env.place].height + scene.BLOCK_HALF + RELEASE_GAP
        above_place = np.array([base[0], base[1], HOVER_Z])
        return [
            *grasp,
            Phase(above_place, 1.0),
            Phase(np.array([base[0], base[1], place_z]), 1.0),
            Phase(np.array([base[0], base[1], place_z]), -1.0, wait=OPEN_STEPS),
            Phase(above_place, -1.0),
        ]

    def _done(self, phase: Phase, mocap: np.ndarray, tcp: np.ndarray) -> bool:
        if phase.wait:
            return self._waited >= phase.wait
        reached = np.linalg.norm(phase.target - mocap) < 1e-6
        return bool(reached and np.linalg.norm(phase.target - tcp) < ARRIVE_TOL)

    def __call__(self, obs: dict) -> np.ndarray:
        env = self.env
        if env.episode_id != self._episode:
            self._episode, self._phases, self._waited = env.episode_id, self.plan(), 0
        mocap = env.target_position()
        tcp = np.asarray(obs["observation.state"][:3], float)
        while len(self._phases) > 1 and self._done(self._phases[0], mocap, tcp):
            self._phases.pop(0)
            self._waited = 0
        phase = self._phases[0]
        action = np.zeros(7, np.float32)
        action[6] = phase.gripper
        if phase.wait:
            self._waited += 1
            return action
        delta = phase.target - mocap
        dist = float(np.linalg.norm(delta))
        if dist > SPEED:
            delta *= SPEED / dist
        action[:3] = delta / POS_SCALE
        return action
