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
    # ACT's temporal ensembling: query every step and execute the mean of every chunk's action for this step,
    # weighted exp(-m * i) with i = 0 for the oldest chunk
    temporal_ensemble: float = 0.0  # m of that ensembling, > 0 turns it on (ACT: 0.01); 0 = chunks run open loop
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
# Outcome-deciding fields added after episode logs existed, with their defaults: logged only when set, so that
# a log written before them still resumes under the same protocol.
LATER_PROTOCOL_FIELDS = {"temporal_ensemble": 0.0}


def protocol(cfg: EvalConfig) -> dict:
    """The outcome-deciding fields of `cfg`, as logged with every episode."""
    later = {k: getattr(cfg, k) for k, default in LATER_PROTOCOL_FIELDS.items() if getattr(cfg, k) != default}
    return {**{name: getattr(cfg, name) for name in PROTOCOL_FIELDS}, **later}
