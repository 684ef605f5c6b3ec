"""Fixtures of the experiment tests."""

from __future__ import annotations

import copy

import pytest
from experiment_plans import make_plan_dict


@pytest.fixture
def plan_dict() -> dict:
    return copy.deepcopy(make_plan_dict())
