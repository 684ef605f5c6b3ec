"""`EvalConfig`: what one closed-loop evaluation runs, and which of its fields decide episode outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvalConfig:
    env: str = "tabletop"  # suite name (sim.registry)
    tasks: list[int] = field(default_factory=list)  # task ids; [] = all tasks of the suite
    init_states: list[int] = field(default_factory=lambda: list(range(10)))  # fixed initial-state ids per task
    image_size: int = 128  # camera resolution of the env (the policy resizes to its own input size)
    open_loop_steps: int = 0  # actions executed per predicted chunk; 0 = the whole chunk (OFT)
    num_steps_wait: int = 0  # steps of `wait_action` after reset (LIBERO protocol: 10)
    wait_action: list[float] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0, -1])  # dummy action while waiting
    max_steps: int = 0  # per-episode step limit; 0 = each task's own max_steps
    seed: int = 7  # torch/numpy seed, re-set per episode from (seed, task, init state)
    video_dir: str = ""  # write MP4s (agentview | wrist) here; "" = none
    videos_per_task: int = 1  # how many episodes per task get a video (the first init states listed)
    workers: int = 1  # episode worker processes (each loads the policy and one env; 1 torch thread each)


# The fields an episode's outcome depends on (with the policy, the task and the initial state). The others
# choose which episodes run or what is written beside them, so a resumed run may change them freely.
PROTOCOL_FIELDS = ("env", "max_steps", "open_loop_steps", "num_steps_wait", "wait_action", "seed",
                   "image_size")


def protocol(cfg: EvalConfig) -> dict:
    """The outcome-deciding fields of `cfg`, as logged with every episode."""
    return {name: getattr(cfg, name) for name in PROTOCOL_FIELDS}
