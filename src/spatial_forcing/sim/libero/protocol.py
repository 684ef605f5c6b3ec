"""LIBERO evaluation protocol constants (plug into the generic rollout loop in spatial_forcing.eval).

Reference: OpenVLA-OFT `experiments/robot/libero/run_libero_eval.py` (the protocol Spatial Forcing
reports): per task, episode i starts from the suite's fixed init state i; the env first receives
`num_steps_wait` dummy actions (objects settle), then the policy acts for at most `max_steps` steps,
executing each predicted action chunk open-loop; success is LIBERO's goal predicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from spatial_forcing.sim.libero.suite import MAX_STEPS_LEROBOT, MAX_STEPS_OFT

MAX_STEPS_SOURCE = "OpenVLA-OFT experiments/robot/libero/run_libero_eval.py (TASK_MAX_STEPS)"
MAX_STEPS_LEROBOT_SOURCE = "LeRobot 0.6.1 lerobot/envs/libero.py (libero_spatial: 280)"


@dataclass(frozen=True)
class LiberoProtocol:
    """How a LIBERO suite is evaluated."""

    suite: str = "libero_spatial"  # benchmark suite name
    task_ids: tuple[int, ...] = tuple(range(10))  # tasks evaluated
    num_trials_per_task: int = 50  # episodes per task = init states 0..n-1
    seed: int = 7  # torch / numpy / random seed of the evaluation run
    env_seed: int = 0  # env.seed() in the reference
    num_steps_wait: int = 10  # dummy steps before the policy acts
    dummy_action: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # no motion, gripper open
    max_steps_table: dict[str, int] = field(default_factory=lambda: dict(MAX_STEPS_OFT))  # policy steps
    max_steps_source: str = MAX_STEPS_SOURCE  # where max_steps_table comes from
    reference_camera_resolution: int = 256  # the reference renders at 256 px, then resizes to 224
    camera_resolution: int = 128  # what we render on CPU (rendering cost barely depends on size)
    open_loop_chunk: bool = True  # execute the whole predicted action chunk before re-planning
    rotate_180: bool = True  # images rotated 180 degrees (done by the env wrapper)

    @property
    def max_steps(self) -> int:
        """Policy step limit of this suite (excluding the wait steps)."""
        return self.max_steps_table[self.suite]

    def episodes(self) -> list[tuple[int, int]]:
        """(task_id, init_state) pairs in evaluation order."""
        return [(t, i) for t in self.task_ids for i in range(self.num_trials_per_task)]

    def for_suite(self, suite: str) -> "LiberoProtocol":
        """The same protocol for another suite."""
        return replace(self, suite=suite)

    def with_lerobot_max_steps(self) -> "LiberoProtocol":
        """The LeRobot step-limit table (libero_spatial 280 instead of 220)."""
        return replace(self, max_steps_table=dict(MAX_STEPS_LEROBOT),
                       max_steps_source=MAX_STEPS_LEROBOT_SOURCE)


# full: the reference protocol (10 tasks x 50 init states = 500 episodes per suite; ~6-14 CPU-hours).
# reduced: 10 tasks x 5 init states = 50 episodes, for CPU budgets.
PRESETS: dict[str, LiberoProtocol] = {
    "full": LiberoProtocol(),
    "reduced": LiberoProtocol(num_trials_per_task=5),
}
