"""Shared fixtures: a small synthetic LeRobot v3 dataset written with the project's own writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.writer import LeRobotWriter


def write_synthetic_dataset(root: Path, episodes_per_task: int = 3, frames: int = 12, size: int = 32,
                            seed: int = 0) -> Path:
    """Two tasks; the image shows a bright square whose position drives the actions (learnable)."""
    rng = np.random.default_rng(seed)
    features = {
        "observation.images.agentview": fmt.image_feature(size, size),
        "observation.images.wrist": fmt.image_feature(size, size),
        "observation.state": fmt.vector_feature(8),
        "action": fmt.vector_feature(7),
    }
    tasks = ["pick up the block left of the cylinder", "pick up the block right of the cylinder"]
    with LeRobotWriter(root, fps=20, features=features) as writer:
        for task_id, task in enumerate(tasks):
            for _ in range(episodes_per_task):
                x, y = rng.integers(2, size - 10, size=2)
                for t in range(frames):
                    img = np.zeros((size, size, 3), np.uint8)
                    img[y : y + 8, x : x + 8, task_id] = 255
                    wrist = np.roll(img, t, axis=1)
                    state = np.r_[x / size, y / size, t / frames, np.zeros(3), 0.04, 0.04].astype(np.float32)
                    action = np.r_[(x / size - 0.5), (y / size - 0.5), 0.1 * np.sin(t), np.zeros(3),
                                   1.0 if t > frames // 2 else -1.0].astype(np.float32)
                    writer.add_frame({"observation.images.agentview": img, "observation.images.wrist": wrist,
                                      "observation.state": state, "action": action})
                writer.save_episode(task)
        writer.finalize()
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs torch on one thread: CI has two shared cores, and one thread is faster and fairer."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def make_synthetic_dataset():
    """The writer above, as a fixture: tests in sub-folders cannot import the root conftest by name."""
    return write_synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic")
