"""The success predicate: right block resting on the right target with the gripper open."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_forcing.sim.suite import TaskSpec
from spatial_forcing.sim.tabletop import scene
from spatial_forcing.sim.tabletop.tasks import TabletopTask

OPEN = np.array([0, 0, 0, 0, 0, 0, -1], np.float32)


def _teleport(env, block: str, onto: str) -> None:
    """Put `block` 2 mm above the top of `onto`, at rest."""
    m, d = env.model, env.data
    base = d.xpos[m.body(onto).id]
    adr = m.jnt_qposadr[m.joint(block).id]
    dof = m.jnt_dofadr[m.joint(block).id]
    d.qpos[adr:adr + 3] = [base[0], base[1], base[2] + scene.PROPS[onto].height + scene.BLOCK_HALF + 0.002]
    d.qpos[adr + 3:adr + 7] = [1, 0, 0, 0]
    d.qvel[dof:dof + 6] = 0


def test_not_successful_at_start(blind_env):
    for i in range(5):
        blind_env.reset(options={"init_state": i})
        assert not blind_env.is_success()


def test_right_block_on_plate_succeeds(blind_env):
    blind_env.reset(options={"init_state": 1})
    _teleport(blind_env, blind_env.pick, blind_env.place)
    obs, reward, terminated, truncated, info = blind_env.step(OPEN)
    assert info["success"] and terminated and reward == 1.0 and not truncated


def test_wrong_block_on_plate_fails(blind_env):
    blind_env.reset(options={"init_state": 1})
    wrong = "block_1" if blind_env.pick == "block_0" else "block_0"
    _teleport(blind_env, wrong, blind_env.place)
    for _ in range(3):
        *_, info = blind_env.step(OPEN)
    assert not info["success"]


def test_closed_gripper_is_not_released(blind_env):
    blind_env.reset(options={"init_state": 2})
    _teleport(blind_env, blind_env.pick, blind_env.place)
    *_, info = blind_env.step(np.array([0, 0, 0, 0, 0, 0, 1], np.float32))
    assert not info["success"]  # block is on the plate but the gripper command is "closed"
    *_, info = blind_env.step(OPEN)
    assert info["success"]


def test_truncates_at_max_steps(suite):
    env = suite.make_env(4, cameras=False)
    env.reset(options={"init_state": 0})
    for k in range(env.max_steps):
        *_, terminated, truncated, info = env.step(OPEN)
        assert truncated == (k == env.max_steps - 1) and not terminated
    env.close()


def _lift_env(suite, state: int = 3):
    """Task 9 reset to fixed state `state`: (env, first observation)."""
    env = suite.make_env(9, cameras=False)
    obs, _ = env.reset(options={"init_state": state})
    assert env.task.goal == "lift" and env.place == ""
    return env, obs


def test_lift_task_succeeds_only_when_held_up(suite):
    """Task 9: the expert's grasp-and-lift succeeds and terminates; the same height reached without the
    fingers (block teleported up, gripper open) does not count, nor does a block that never left the table."""
    env, obs = _lift_env(suite)
    expert = suite.expert(env)
    z0 = env.prop_positions()[env.pick][2]
    for _ in range(env.max_steps):
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    assert terminated and info["success"] and info["picked"] and reward == 1.0
    assert env.prop_positions()[env.pick][2] >= z0 + 0.05  # the block is up ...
    assert env.success_check.held(env.data, env.model.geom(env.pick).id)  # ... between both fingers
    env.close()

    env, _ = _lift_env(suite)
    m, d = env.model, env.data
    adr = m.jnt_qposadr[m.joint(env.pick).id]
    d.qpos[adr + 2] += 0.1  # 10 cm up, nothing holding it
    *_, info = env.step(OPEN)
    assert not info["success"]
    env.reset(options={"init_state": 4})
    for _ in range(5):
        *_, info = env.step(OPEN)
    assert not info["success"]
    env.close()


def test_lift_plan_and_subgoal_order(suite):
    """The lift expert's plan is grasp-and-up only (never towards the plate); on the way up the 3 cm `picked`
    sub-goal comes before the 5 cm success."""
    env, obs = _lift_env(suite, state=7)
    expert = suite.expert(env)
    block = env.prop_positions()[env.pick]
    phases = expert.plan()
    assert len(phases) == 4 and np.allclose(phases[-1].target[:2], block[:2]) and phases[-1].gripper == 1.0
    picked_at = success_at = None
    for t in range(env.max_steps):
        obs, _, terminated, _, info = env.step(expert(obs))
        if info["picked"] and picked_at is None:
            picked_at = t
        if terminated:
            success_at = t
            break
    assert picked_at is not None and success_at is not None and picked_at < success_at
    env.close()


def test_task_goal_is_checked():
    with pytest.raises(ValueError, match="goal 'lifts'"):
        TabletopTask(TaskSpec("x", "lift it", 10), "single", lambda poses: ("block_0", ""), goal="lifts")
