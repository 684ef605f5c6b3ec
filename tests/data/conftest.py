"""Shared fixtures of the data tests."""

from __future__ import annotations

import pytest
from lerobot_helpers import make_episodes, write_dataset


@pytest.fixture
def tiny(tmp_path):
    """(root, episodes) of a freshly written 4-episode dataset with PNG images."""
    episodes = make_episodes()
    return write_dataset(tmp_path / "ds", episodes), episodes
