"""The tabletop tasks. Tasks 0-7 pick one of two identical red blocks (or place onto one of two identical
plates) and only a spatial relation in the instruction tells which. Task 8 is the ladder's first rung: one
block, one plate, nothing to choose; it still needs the block's position read from the images. Task 9, the
rung below it, is the same scene with a shorter goal: grasp the block and lift it (the plate is a distractor).
Conventions, as seen in `agentview`: "left" is image-left (world -y); "closer to the robot" is smaller
world x (the robot stands at -x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from spatial_forcing.sim.suite import TaskSpec

Poses = dict[str, np.ndarray]  # prop name -> world position of its body (x, y, z)
Chooser = Callable[[Poses], tuple[str, str]]  # current poses -> (body to pick, body to place it on or "")
GOALS = ("place", "lift")  # what a task asks for (TabletopTask.goal)

BLOCKS = ("block_0", "block_1")


def _pick_by(key: Callable[[np.ndarray], float], place: str = "plate_0") -> Chooser:
    """Pick the block minimising `key(position)`; place it on `place`."""
    def choose(poses: Poses) -> tuple[str, str]:
        return min(BLOCKS, key=lambda b: key(poses[b])), place
    return choose


def _on_box(box: str) -> Chooser:
    """Pick the block standing on `box` (the one horizontally nearest to it)."""
    def choose(poses: Poses) -> tuple[str, str]:
        return min(BLOCKS, key=lambda b: float(np.linalg.norm(poses[b][:2] - poses[box][:2]))), "plate_0"
    return choose


def _plate_by(sign: float) -> Chooser:
    """Place the single block on the plate nearer (sign=+1) or farther (sign=-1) from the cylinder."""
    def choose(poses: Poses) -> tuple[str, str]:
        cyl = poses["cylinder"][:2]
        dist = {p: float(np.linalg.norm(poses[p][:2] - cyl)) for p in ("plate_0", "plate_1")}
        return "block_0", min(dist, key=lambda p: sign * dist[p])
    return choose


@dataclass(frozen=True)
class TabletopTask:
    """A task: its public spec, its layout family and the relation that picks the objects."""

    spec: TaskSpec  # name, instruction, max_steps
    family: str  # key into layouts.FAMILIES
    choose: Chooser  # which block to pick and where to put it ("" for a lift task: nowhere)
    goal: str = "place"  # "place": block resting on the target, released; "lift": block held LIFT_HEIGHT up

    def __post_init__(self) -> None:
        if self.goal not in GOALS:
            raise ValueError(f"task {self.spec.name}: goal {self.goal!r}; expected one of {GOALS}")


def _task(name: str, instruction: str, family: str, choose: Chooser, max_steps: int,
          goal: str = "place") -> TabletopTask:
    return TabletopTask(TaskSpec(name, instruction, max_steps), family, choose, goal)


# max_steps of the pick-and-place tasks: the scripted expert needs 51-67 steps on average over the 50 fixed
# initial states (`sf expert-check`), so 140 is about twice its mean episode length.
TASKS: list[TabletopTask] = [
    _task("left_of_cylinder", "pick up the red block left of the blue cylinder and place it on the plate",
          "blocks", _pick_by(lambda p: p[1]), 140),
    _task("right_of_cylinder", "pick up the red block right of the blue cylinder and place it on the plate",
          "blocks", _pick_by(lambda p: -p[1]), 140),
    _task("closest_to_robot", "pick up the red block closest to the robot and place it on the plate",
          "blocks", _pick_by(lambda p: p[0]), 140),
    _task("farthest_from_robot", "pick up the red block farthest from the robot and place it on the plate",
          "blocks", _pick_by(lambda p: -p[0]), 140),
    _task("on_tall_box", "pick up the red block on the tall box and place it on the plate",
          "boxes", _on_box("box_tall"), 140),
    _task("on_short_box", "pick up the red block on the short box and place it on the plate",
          "boxes", _on_box("box_short"), 140),
    _task("plate_near_cylinder",
          "pick up the red block and place it on the plate nearer to the blue cylinder",
          "plates", _plate_by(+1.0), 140),
    _task("plate_far_from_cylinder",
          "pick up the red block and place it on the plate farther from the blue cylinder",
          "plates", _plate_by(-1.0), 140),
    _task("single_block", "pick up the red block and place it on the plate",
          "single", lambda poses: ("block_0", "plate_0"), 140),
    # the expert lifts in 29 steps on average (20-37) over the 50 fixed states: 60 is about twice that
    _task("lift_block", "pick up the red block and lift it", "single", lambda poses: ("block_0", ""), 60,
          goal="lift"),
]
