"""Semantic segmentation and the environment_state slots of the tabletop."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_forcing.sim.tabletop import scene, semantics
from spatial_forcing.sim.tabletop.camera import project
from spatial_forcing.sim.tabletop.env import TabletopEnv
from spatial_forcing.teachers.pretrain.losses import MAX_DEPTH


def test_both_red_blocks_project_onto_the_one_red_block_class(depth_env):
    obs, _ = depth_env.reset(options={"init_state": 0})
    seg = obs["observation.segmentation.agentview"]
    intr, extr = obs["observation.intrinsics.agentview"], obs["observation.extrinsics.agentview"]
    for block in ("block_0", "block_1"):
        top = depth_env.prop_positions()[block] + np.array([0.0, 0.0, scene.BLOCK_HALF])
        u, v = np.round(project(top[None], intr, extr)[0][0]).astype(int)
        assert seg[v, u] == semantics.RED_BLOCK, block
    rgb = obs["observation.images.agentview"].astype(int)
    red = (rgb[..., 0] > 120) & (rgb[..., 0] > 2 * rgb[..., 1]) & (rgb[..., 0] > 2 * rgb[..., 2])
    block_px = seg == semantics.RED_BLOCK
    assert block_px.sum() >= 8 and red[block_px].mean() > 0.9  # the class covers what looks red
    assert set(np.unique(seg)) == {semantics.NONE, semantics.TABLE, semantics.ROBOT_BASE, semantics.GRIPPER,
                                   semantics.RED_BLOCK, semantics.CYLINDER, semantics.PLATE}
    # background (far plane) and "no geom" are the same pixels; the near rows are table
    np.testing.assert_array_equal(seg == semantics.NONE, obs["observation.depth.agentview"] >= MAX_DEPTH)
    assert np.all(seg[-4:] == semantics.TABLE)
    assert (obs["observation.segmentation.wrist"] == semantics.GRIPPER).any()  # the fingers


def test_every_geom_of_every_family_has_a_class():
    for task_id in (0, 4, 6):  # one task per layout family
        env = TabletopEnv(task_id, cameras=False, num_init_states=1)
        classes = semantics.geom_classes(env.model)
        assert np.all(classes > 0) and classes.max() < semantics.NUM_CLASSES
        env.close()
    assert len(semantics.ENV_STATE_NAMES) == 21 and semantics.ENV_STATE_NAMES[:4] == [
        "red_block_a.x", "red_block_a.y", "red_block_a.z", "red_block_b.x"]


@pytest.mark.parametrize("task_id,absent", [(0, ["plate_b", "box_tall", "box_short"]),
                                            (4, ["cylinder", "plate_b"]),
                                            (6, ["red_block_b", "box_tall", "box_short"]),
                                            (8, ["red_block_b", "plate_b", "box_tall", "box_short"])])
def test_environment_state_slots_sorted_by_y_and_nan_when_absent(task_id, absent):
    env = TabletopEnv(task_id, cameras=False, num_init_states=3)
    for i in range(3):
        obs, _ = env.reset(options={"init_state": i})
        state = obs["observation.environment_state"]
        assert state.shape == (21,) and state.dtype == np.float32
        slot = {name: state[3 * k:3 * k + 3] for k, name in enumerate(semantics.SLOTS)}
        for name in absent:
            assert np.isnan(slot[name]).all(), name
        present = [n for n in semantics.SLOTS if n not in absent]
        assert not np.isnan(np.concatenate([slot[n] for n in present])).any()
        pos = env.prop_positions()
        blocks = sorted((b for b in ("block_0", "block_1") if b in pos), key=lambda b: pos[b][1])
        plates = sorted((p for p in ("plate_0", "plate_1") if p in pos), key=lambda p: pos[p][1])
        pairs = [*zip(("red_block_a", "red_block_b"), blocks), *zip(("plate_a", "plate_b"), plates)]
        for name, body in pairs:
            np.testing.assert_allclose(slot[name], pos[body], atol=1e-6)
        if "red_block_b" in present:
            assert slot["red_block_a"][1] < slot["red_block_b"][1]
        assert env.observation_space.contains(obs)  # NaN entries are allowed
    env.close()


def test_env_state_columns_name_the_slot_axes():
    cols = semantics.env_state_columns(("red_block_b", "cylinder"), "xy")
    assert [semantics.ENV_STATE_NAMES[c] for c in cols] == ["red_block_b.x", "red_block_b.y", "cylinder.x", "cylinder.y"]
