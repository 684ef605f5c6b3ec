"""Helpers shared by the data tests: tiny random episodes and a dataset written with LeRobotWriter."""

from __future__ import annotations

import numpy as np

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.writer import LeRobotWriter

LENGTHS = [5, 9, 3, 7]  # frames per episode
TASKS = ["pick the left block", "pick the right block"]


def make_episodes(seed: int = 0, size: int = 12) -> list[dict]:
    """Random episodes: list of {"task", "frames": [frame dicts]}."""
    rng = np.random.default_rng(seed)
    episodes = []
    for e, n in enumerate(LENGTHS):
        frames = [{fmt.image_key("agentview"): rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                   fmt.image_key("wrist"): rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                   fmt.STATE_KEY: rng.normal(size=8).astype(np.float32),
                   fmt.ACTION_KEY: rng.uniform(-1, 1, 7).astype(np.float32)} for _ in range(n)]
        episodes.append({"task": TASKS[e % 2], "frames": frames})
    return episodes


def write_dataset(root, episodes, video: bool = False, size: int = 12, fps: int = 10):
    features = {fmt.image_key("agentview"): fmt.image_feature(size, size),
                fmt.image_key("wrist"): fmt.image_feature(size, size, video=video),
                fmt.STATE_KEY: fmt.vector_feature(8), fmt.ACTION_KEY: fmt.vector_feature(7)}
    with LeRobotWriter(root, fps, features, robot_type="test") as writer:
        for ep in episodes:
            for frame in ep["frames"]:
                writer.add_frame(frame)
            writer.save_episode(ep["task"])
        return writer.finalize()
