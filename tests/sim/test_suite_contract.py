"""Contract test run against every registered suite: task specs, fixed initial states, reset / step and the
observation keys and shapes that generation, training and evaluation rely on. LIBERO suites run only when
the `libero` extra imports, and skip otherwise."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from spatial_forcing.sim.registry import SUITES, get_suite
from spatial_forcing.sim.suite import TaskSpec
from spatial_forcing.utils.errors import SFError

SIZE = 32
CAMERAS = ("agentview", "wrist")  # every suite renders these two views (the dataset's image keys)


@functools.lru_cache(maxsize=None)
def _suite(name: str):
    return get_suite(name)


@pytest.fixture(params=sorted(SUITES))
def name(request) -> str:
    if SUITES[request.param][0].startswith("spatial_forcing.sim.libero."):
        os.environ.setdefault("MUJOCO_GL", "egl")  # before LIBERO imports mujoco
        pytest.importorskip("libero.libero", reason="LIBERO is the [libero] extra")
    return request.param


@pytest.fixture
def env(name):
    e = _suite(name).make_env(0, image_size=SIZE)
    yield e
    e.close()


def test_task_specs(name):
    suite = _suite(name)
    assert suite.name == name
    assert suite.tasks and all(isinstance(t, TaskSpec) for t in suite.tasks)
    assert len({t.name for t in suite.tasks}) == len(suite.tasks)
    assert all(t.instruction.strip() and t.max_steps > 0 for t in suite.tasks)
    assert all(suite.num_init_states(i) >= 1 for i in range(len(suite.tasks)))
    with pytest.raises(SFError, match="out of range"):
        suite.make_env(len(suite.tasks))


def _check_obs(obs: dict, space) -> None:
    assert set(space.spaces) <= set(obs)
    for key, box in space.spaces.items():
        assert obs[key].shape == box.shape and obs[key].dtype == box.dtype, key
    for cam in CAMERAS:
        assert obs[f"observation.images.{cam}"].shape == (SIZE, SIZE, 3)
        assert obs[f"observation.images.{cam}"].dtype == np.uint8
    assert obs["observation.state"].shape == (8,) and obs["observation.state"].dtype == np.float32


def test_reset_to_an_init_state_and_step(name, env):
    obs, info = env.reset(options={"init_state": 0})
    _check_obs(obs, env.observation_space)
    assert isinstance(info, dict)
    again, _ = env.reset(options={"init_state": 0})  # fixed initial states: the same start every time
    np.testing.assert_array_equal(obs["observation.state"], again["observation.state"])
    assert env.action_space.shape == (7,)
    obs, reward, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    _check_obs(obs, env.observation_space)
    assert isinstance(reward, float) and isinstance(terminated, bool) and isinstance(truncated, bool)
    assert "success" in info
    try:
        expert = _suite(name).expert(env)
    except SFError as err:  # a suite may hold tasks its scripted expert does not solve: it says so in one line
        assert "\n" not in str(err)
    else:
        assert np.asarray(expert(obs)).shape == (7,)
    with pytest.raises(SFError, match="init_state .* out of range"):
        env.reset(options={"init_state": _suite(name).num_init_states(0)})


def test_blind_env_renders_nothing(name):
    e = _suite(name).make_env(0, cameras=False)
    try:
        obs, _ = e.reset(options={"init_state": 0})
        assert not any(k.startswith("observation.images.") for k in obs)
        assert obs["observation.state"].shape == (8,)
    finally:
        e.close()
