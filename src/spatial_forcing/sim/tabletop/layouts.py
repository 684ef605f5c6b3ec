"""Randomised scene layouts. Tasks of one family share a layout distribution, so a layout never tells
which task it belongs to: only the instruction does (LIBERO-Spatial style).

A layout maps prop name -> [x, y, z_bottom, yaw]. Sampling is rejection sampling over uniform positions with
a clearance margin (room for open fingers) plus a family-specific check that the relation margins hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from spatial_forcing.sim.tabletop.scene import PROPS

Layout = dict[str, np.ndarray]

REGION_X = (-0.15, 0.15)  # where props may stand (m), robot side is -x
REGION_Y = (-0.2, 0.2)  # (m), image-left is -y
CLEARANCE = 0.04  # extra gap between prop footprints (m), room for the open fingers
BLOCK_YAW = 0.25  # max |yaw| of blocks and boxes (rad)
SIDE_MARGIN = 0.05  # min |dy| of each block from the cylinder in left/right layouts (m)
DEPTH_MARGIN = 0.06  # min |dx| between the two blocks in closest/farthest layouts (m)
PLATE_MARGIN = 0.08  # min difference of the plates' distances to the cylinder (m)
MAX_TRIES = 10_000  # rejection-sampling budget per layout


@dataclass(frozen=True)
class Family:
    """A set of props and the constraint every layout of the family satisfies."""

    name: str  # family identifier
    props: tuple[str, ...]  # props present in the scene (all are placed on the table unless stacked)
    stacked: tuple[tuple[str, str], ...]  # (block, box) pairs: the block sits on the box (random pairing)
    valid: Callable[[Layout], bool]  # relation margins that must hold


def _xy(layout: Layout, name: str) -> np.ndarray:
    return layout[name][:2]


def _sides_valid(layout: Layout) -> bool:
    """Blocks on opposite sides of the cylinder (in y) and at clearly different distances from the robot."""
    cy = layout["cylinder"][1]
    d0, d1 = layout["block_0"][1] - cy, layout["block_1"][1] - cy
    sides = d0 * d1 < 0 and min(abs(d0), abs(d1)) >= SIDE_MARGIN
    return sides and abs(layout["block_0"][0] - layout["block_1"][0]) >= DEPTH_MARGIN


def _plates_valid(layout: Layout) -> bool:
    """The two plates are at clearly different distances from the cylinder."""
    c = _xy(layout, "cylinder")
    d = [np.linalg.norm(_xy(layout, p) - c) for p in ("plate_0", "plate_1")]
    return abs(d[0] - d[1]) >= PLATE_MARGIN


FAMILIES: dict[str, Family] = {
    "blocks": Family("blocks", ("block_0", "block_1", "cylinder", "plate_0"), (), _sides_valid),
    "boxes": Family("boxes", ("box_tall", "box_short", "block_0", "block_1", "plate_0"),
                    (("block_0", "box_tall"), ("block_1", "box_short")), lambda layout: True),
    "plates": Family("plates", ("block_0", "cylinder", "plate_0", "plate_1"), (), _plates_valid),
    "single": Family("single", ("block_0", "cylinder", "plate_0"), (), lambda layout: True),
}


def _clear(layout: Layout, name: str, xy: np.ndarray) -> bool:
    """Whether a prop at `xy` keeps the clearance margin to every prop already on the table."""
    for other, pose in layout.items():
        gap = PROPS[name].footprint + PROPS[other].footprint + CLEARANCE
        if np.linalg.norm(pose[:2] - xy) < gap:
            return False
    return True


def _try_sample(family: Family, rng: np.random.Generator) -> Layout | None:
    """One attempt: place every table-standing prop, then stack blocks onto boxes."""
    on_box = {block for block, _ in family.stacked}
    layout: Layout = {}
    for name in family.props:
        if name in on_box:
            continue
        for _ in range(50):
            xy = np.array([rng.uniform(*REGION_X), rng.uniform(*REGION_Y)])
            if _clear(layout, name, xy):
                break
        else:
            return None
        yaw = rng.uniform(-BLOCK_YAW, BLOCK_YAW) if PROPS[name].shape == "box" else 0.0
        layout[name] = np.array([xy[0], xy[1], 0.0, yaw])
    boxes = [box for _, box in family.stacked]
    order = rng.permutation(len(boxes))
    for (block, _), k in zip(family.stacked, order):
        box = layout[boxes[k]]
        yaw = box[3] + rng.uniform(-0.1, 0.1)
        layout[block] = np.array([box[0], box[1], PROPS[boxes[k]].height, yaw])
    return layout if family.valid(layout) else None


def sample_layout(family: Family, rng: np.random.Generator) -> Layout:
    """A random valid layout of `family` (deterministic given the generator state)."""
    for _ in range(MAX_TRIES):
        layout = _try_sample(family, rng)
        if layout is not None:
            return layout
    raise RuntimeError(f"could not sample a layout for family {family.name!r}")
