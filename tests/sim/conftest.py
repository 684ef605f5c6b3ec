"""Shared tabletop fixtures: envs are built once per session (building one settles 50 initial states)."""

from __future__ import annotations

import pytest

from spatial_forcing.sim.tabletop.suite import TabletopSuite


@pytest.fixture(scope="session")
def suite() -> TabletopSuite:
    return TabletopSuite()


@pytest.fixture(scope="session")
def depth_env(suite):
    env = suite.make_env(0, image_size=64, render_depth=True)
    yield env
    env.close()


@pytest.fixture(scope="session")
def blind_env(suite):
    env = suite.make_env(0, cameras=False)
    yield env
    env.close()
