"""Depth and camera parameters agree with what is rendered."""

from __future__ import annotations

import numpy as np

from spatial_forcing.sim.tabletop import scene
from spatial_forcing.sim.tabletop.camera import backproject, project


def _is_red(pixel: np.ndarray) -> bool:
    r, g, b = (int(v) for v in pixel)
    return r > 120 and r > 2 * g and r > 2 * b


def test_projected_block_centre_is_red_and_depth_matches(depth_env):
    for i in range(4):
        obs, _ = depth_env.reset(options={"init_state": i})
        block = depth_env.prop_positions()[depth_env.pick]
        # the top face centre is visible from the agentview camera
        top = block + np.array([0.0, 0.0, scene.BLOCK_HALF])
        intr, extr = obs["observation.intrinsics.agentview"], obs["observation.extrinsics.agentview"]
        uv, z = project(top[None], intr, extr)
        u, v = np.round(uv[0]).astype(int)
        assert 0 <= u < 64 and 0 <= v < 64
        assert _is_red(obs["observation.images.agentview"][v, u])
        assert abs(obs["observation.depth.agentview"][v, u] - z[0]) < 0.02


def test_depth_backprojects_to_table_plane(depth_env):
    obs, _ = depth_env.reset(options={"init_state": 0})
    pts = backproject(obs["observation.depth.agentview"], obs["observation.intrinsics.agentview"],
                      obs["observation.extrinsics.agentview"])
    # bottom rows see only the table near the camera (no props are sampled there)
    bottom = pts[-4:].reshape(-1, 3)
    assert np.abs(bottom[:, 2]).max() < 0.005
    assert bottom[:, 0].min() > 0.15  # near the camera side of the table (+x)


def test_wrist_camera_moves_with_gripper_and_sees_down(depth_env):
    obs, _ = depth_env.reset(options={"init_state": 0})
    ext0 = obs["observation.extrinsics.wrist"]
    tcp = obs["observation.state"][:3]
    # the point straight below the TCP on the table lies in the wrist view, around the image centre
    uv, z = project(np.array([[tcp[0], tcp[1], 0.0]]), obs["observation.intrinsics.wrist"], ext0)
    assert z[0] > 0 and np.all(np.abs(uv[0] - 31.5) < 16)
    d = obs["observation.depth.wrist"][int(round(uv[0, 1])), int(round(uv[0, 0]))]
    assert abs(d - z[0]) < 0.01
    for _ in range(3):
        obs, *_ = depth_env.step(np.array([0, 1, 0, 0, 0, 0, -1], np.float32))
    assert not np.allclose(obs["observation.extrinsics.wrist"], ext0)
    np.testing.assert_allclose(np.linalg.det(obs["observation.extrinsics.wrist"][:3, :3]), 1.0, atol=1e-4)
