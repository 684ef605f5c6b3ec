"""The tabletop success predicates: the picked block rests on the target and the gripper has let go
("place" tasks), or the block is held in the fingers LIFT_HEIGHT above where it stood ("lift" tasks)."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco  # noqa: E402

from spatial_forcing.sim.tabletop import scene  # noqa: E402

XY_TOL = 0.045  # max horizontal distance of block centre from target centre (m)
Z_TOL = 0.008  # max |block bottom - target top| (m)
MAX_SPEED = 0.05  # max block linear speed (m/s): it must be resting
OPEN_FRACTION = 0.5  # gripper command must be at least this fraction of fully open
LIFT_HEIGHT = 0.05  # a lift task succeeds once the block centre is this far above its start (m), in the fingers


class SuccessCheck:
    """Callable `(data, pick, place) -> bool` (the place predicate) bound to one model; `lifted` is the lift
    predicate."""

    def __init__(self, model: mujoco.MjModel):
        self.model = model
        self._fingers = {model.geom(f"finger_{s}").id for s in "rl"}

    def __call__(self, data: mujoco.MjData, pick: str, place: str) -> bool:
        m = self.model
        block = data.xpos[m.body(pick).id]
        base = data.xpos[m.body(place).id]
        top = base[2] + scene.PROPS[place].height
        if np.linalg.norm(block[:2] - base[:2]) > XY_TOL:
            return False
        if abs(block[2] - scene.BLOCK_HALF - top) > Z_TOL:
            return False
        dof = m.jnt_dofadr[m.joint(pick).id]
        if np.linalg.norm(data.qvel[dof:dof + 3]) > MAX_SPEED:
            return False
        if float(np.min(data.ctrl)) < OPEN_FRACTION * scene.FINGER_OPEN:
            return False
        return not self.touching(data, m.geom(pick).id)

    def lifted(self, data: mujoco.MjData, pick: str, z0: float) -> bool:
        """Lift predicate: block `pick` LIFT_HEIGHT above its starting height `z0`, touched by both fingers
        (held between them: not thrown, not resting on a prop or pinned by one finger)."""
        m = self.model
        if data.xpos[m.body(pick).id][2] < z0 + LIFT_HEIGHT:
            return False
        return self.held(data, m.geom(pick).id)

    def held(self, data: mujoco.MjData, geom: int) -> bool:
        """Whether both fingers are in contact with `geom`."""
        return all(self._contact(data, geom, {f}) for f in self._fingers)

    def touching(self, data: mujoco.MjData, geom: int) -> bool:
        """Whether any finger geom is in contact with `geom`."""
        return self._contact(data, geom, self._fingers)

    @staticmethod
    def _contact(data: mujoco.MjData, geom: int, others: set[int]) -> bool:
        """Whether `geom` is in contact with any geom of `others`."""
        g1 = np.asarray(data.contact.geom1[:data.ncon])
        g2 = np.asarray(data.contact.geom2[:data.ncon])
        ids = list(others)
        hit = ((g1 == geom) & np.isin(g2, ids)) | ((g2 == geom) & np.isin(g1, ids))
        return bool(hit.any())
