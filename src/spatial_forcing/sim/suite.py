"""The Suite protocol: a family of tasks with fixed initial states and a privileged scripted expert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite."""

    name: str  # short identifier, unique within the suite
    instruction: str  # the language instruction given to the policy
    max_steps: int  # episode step limit used by evaluation


class Suite(Protocol):
    """A set of tasks. Envs follow gymnasium; `reset(options={"init_state": i})` uses fixed state i."""

    name: str
    tasks: list[TaskSpec]

    def num_init_states(self, task_id: int) -> int:
        """How many fixed initial states task `task_id` has."""
        ...

    def make_env(self, task_id: int, image_size: int = 128, render_depth: bool = False,
                 cameras: bool = True) -> Any:
        """A gymnasium env for one task. cameras=False skips rendering (observation without images)."""
        ...

    def expert(self, env: Any) -> Callable[[dict], np.ndarray]:
        """A privileged scripted expert for `env` (reads simulator state): obs -> 7-d action."""
        ...
