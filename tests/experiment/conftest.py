"""Fixtures of the experiment tests."""

from __future__ import annotations

import copy

import pytest
from experiment_plans import make_plan_dict


@pytest.fixture
def plan_dict() -> dict:
    return copy.deepcopy(make_plan_dict())


@pytest.fixture(autouse=True)
def runner_not_stopping():
    """An interrupt test leaves the runner's stop flag set; every test starts with it clear."""
    from spatial_forcing.experiment import runner

    runner._STOPPING.clear()
    yield
    runner._STOPPING.clear()
