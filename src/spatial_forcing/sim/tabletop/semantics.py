"""What the tabletop's objects are: semantic classes of its geoms (segmentation) and the canonical object
slots of `observation.environment_state`.

Identical-looking objects (the two red blocks, the two plates) share one class and are ordered into slots by
world y (image-left first in agentview), never by their body name: nothing visible tells block_0 from block_1.
"""

from __future__ import annotations

import numpy as np

from spatial_forcing.sim.tabletop import scene
from spatial_forcing.utils.errors import SFError

# Semantic class ids, stored as uint8 in datasets: append new classes, never renumber.
NONE = 0  # background: no geom on the ray (beyond the far plane), or a hidden geom
TABLE = 1  # the table top
ROBOT_BASE = 2  # the dark cylinder standing in for the robot at -x
GRIPPER = 3  # palm, wrist link and both fingers
RED_BLOCK = 4  # the pickable red cubes (both: identical)
CYLINDER = 5  # the blue cylinder landmark
PLATE = 6  # the plates (both: identical)
BOX_TALL = 7  # the tall green box
BOX_SHORT = 8  # the short green box
CLASS_NAMES = ("none", "table", "robot_base", "gripper", "red_block", "cylinder", "plate", "box_tall",
               "box_short")  # index = class id
NUM_CLASSES = len(CLASS_NAMES)

# geom name -> class id; every visible geom of the scene must be listed (checked by `geom_classes`).
GEOM_CLASS = {
    "table": TABLE, "robot_base": ROBOT_BASE,
    "palm": GRIPPER, "wrist_link": GRIPPER, "finger_r": GRIPPER, "finger_l": GRIPPER,
    "block_0": RED_BLOCK, "block_1": RED_BLOCK, "cylinder": CYLINDER, "plate_0": PLATE, "plate_1": PLATE,
    "box_tall": BOX_TALL, "box_short": BOX_SHORT,
}

# environment_state slots, in order: (slot name, the bodies that can fill it as a group sorted by world y).
SLOT_GROUPS = (
    (("red_block_a", "red_block_b"), ("block_0", "block_1")),
    (("cylinder",), ("cylinder",)),
    (("plate_a", "plate_b"), ("plate_0", "plate_1")),
    (("box_tall",), ("box_tall",)),
    (("box_short",), ("box_short",)),
)
SLOTS = tuple(slot for slots, _ in SLOT_GROUPS for slot in slots)
ENV_STATE_NAMES = [f"{slot}.{axis}" for slot in SLOTS for axis in "xyz"]  # per-column names, [21]


def env_state_columns(slots: tuple[str, ...], axes: str = "xyz") -> list[int]:
    """Column indices of `observation.environment_state` holding `axes` of each of `slots`, slot-major."""
    return [ENV_STATE_NAMES.index(f"{slot}.{axis}") for slot in slots for axis in axes]


def geom_classes(model) -> np.ndarray:
    """uint8 [ngeom]: the class of every geom of a tabletop `mujoco.MjModel` (hidden geoms: NONE)."""
    out = np.zeros(model.ngeom, dtype=np.uint8)
    for i in range(model.ngeom):
        if model.geom_group[i] == scene.HIDDEN_GROUP:
            continue
        name = model.geom(i).name
        if name not in GEOM_CLASS:
            raise SFError(f"tabletop geom {name!r} has no semantic class; add it to semantics.GEOM_CLASS")
        out[i] = GEOM_CLASS[name]
    return out


def environment_state(positions: dict[str, np.ndarray]) -> np.ndarray:
    """float32 [21]: xyz of every slot (`ENV_STATE_NAMES` order) from body positions; NaN for absent props."""
    out = np.full((len(SLOTS), 3), np.nan, dtype=np.float32)
    row = 0
    for slots, bodies in SLOT_GROUPS:
        present = sorted((positions[b] for b in bodies if b in positions), key=lambda p: float(p[1]))
        for k, pos in enumerate(present):
            out[row + k] = pos
        row += len(slots)
    return out.reshape(-1)
