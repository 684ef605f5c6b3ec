"""Synthetic pretraining renders: a self-contained MuJoCo scene of random primitives on a table, seen by a
third-person camera and a downward-looking "wrist" camera at random poses. Used by tests and as a
fallback data source when the tabletop suite is unavailable."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402

from spatial_forcing.teachers.pretrain.render_set import RenderSet  # noqa: E402

TABLE_Z = 0.4  # height of the table top (m)
MAX_OBJECTS = 6  # primitives pre-declared in the XML; unused ones are parked below the floor


def _scene_xml() -> str:
    bodies = "".join(
        f'<body name="obj{i}" pos="0 0 -5"><freejoint/><geom name="g{i}" type="box" size="0.03 0.03 0.03"/>'
        f"</body>" for i in range(MAX_OBJECTS)
    )
    return f"""<mujoco>
  <visual><quality shadowsize="0"/><map znear="0.01" zfar="20"/></visual>
  <asset><texture name="grid" type="2d" builtin="checker" width="64" height="64" rgb1=".35 .35 .4"
    rgb2=".5 .5 .55"/><material name="floor" texture="grid" texrepeat="6 6"/></asset>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1" castshadow="false" diffuse=".8 .8 .8"/>
    <light pos="1 1 2" dir="-1 -1 -1" castshadow="false" diffuse=".3 .3 .3"/>
    <geom name="floor" type="plane" size="4 4 .1" material="floor"/>
    <geom name="wall" type="box" pos="-1.2 0 1" size=".02 3 1" rgba=".7 .7 .65 1"/>
    <geom name="table" type="box" pos="0 0 {TABLE_Z / 2}" size=".45 .6 {TABLE_Z / 2}" rgba=".55 .4 .3 1"/>
    {bodies}
    <camera name="agentview" pos="1 0 1" fovy="50"/>
    <camera name="wrist" pos="0 0 1" fovy="70"/>
  </worldbody>
</mujoco>"""


def _look_at_quat(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """MuJoCo camera quaternion looking from pos to target (camera -z forward, y up)."""
    fwd = target - pos
    fwd /= np.linalg.norm(fwd)
    up = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    x = np.cross(fwd, up)
    x /= np.linalg.norm(x)
    y = np.cross(-fwd, x)
    mat = np.stack([x, y, -fwd], axis=1)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.flatten())
    return quat


def camera_matrices(model: mujoco.MjModel, data: mujoco.MjData, cam: int,
                    size: int) -> tuple[np.ndarray, np.ndarray]:
    """(intrinsics [3,3], world-to-camera extrinsics [4,4]) in the OpenCV convention for a square image;
    pixel centres sit at integer coordinates, so the principal point is ((size-1)/2, (size-1)/2)."""
    f = 0.5 * size / np.tan(np.deg2rad(model.cam_fovy[cam]) / 2)
    c = (size - 1) / 2
    k = np.array([[f, 0, c], [0, f, c], [0, 0, 1]], dtype=np.float32)
    r_wc = data.cam_xmat[cam].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
    ext = np.eye(4, dtype=np.float32)
    ext[:3, :3] = r_wc.T
    ext[:3, 3] = -r_wc.T @ data.cam_xpos[cam]
    return k, ext


def _randomise(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
    """Random primitives on the table, random third-person and wrist camera poses."""
    n = rng.integers(2, MAX_OBJECTS + 1)
    for i in range(MAX_OBJECTS):
        g = model.geom(f"g{i}").id
        model.geom_type[g] = rng.choice([mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_SPHERE,
                                         mujoco.mjtGeom.mjGEOM_CYLINDER])
        model.geom_size[g] = rng.uniform(0.02, 0.07, 3)
        model.geom_rgba[g] = np.append(rng.uniform(0.05, 1.0, 3), 1.0)
        qadr = model.jnt_qposadr[model.body(f"obj{i}").jntadr[0]]
        pos = [rng.uniform(-0.35, 0.35), rng.uniform(-0.5, 0.5), TABLE_Z + model.geom_size[g][2]]
        if i >= n:
            pos = [0.0, 0.0, -5.0]
        elif rng.random() < 0.2:
            pos[2] += rng.uniform(0.05, 0.25)  # "lifted" object
        data.qpos[qadr:qadr + 3] = pos
        yaw = rng.uniform(0, np.pi)
        data.qpos[qadr + 3:qadr + 7] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
    centre = np.array([0.0, 0.0, TABLE_Z])
    dist = rng.uniform(0.9, 1.4)
    elev, azim = np.deg2rad(rng.uniform(25, 60)), np.deg2rad(rng.uniform(-40, 40))
    agent = centre + dist * np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    target = centre + np.append(rng.uniform(-0.1, 0.1, 2), 0.0)
    model.cam_pos[0], model.cam_quat[0] = agent, _look_at_quat(agent, target)
    wrist = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.4), TABLE_Z + rng.uniform(0.12, 0.45)])
    look = wrist + np.array([*rng.uniform(-0.15, 0.15, 2), -(wrist[2] - TABLE_Z)])
    model.cam_pos[1], model.cam_quat[1] = wrist, _look_at_quat(wrist, look)
    model.cam_fovy[0], model.cam_fovy[1] = rng.uniform(42, 58), rng.uniform(60, 80)


def render_synthetic(n: int, image_size: int = 64, seed: int = 0) -> RenderSet:
    """`n` two-view samples (agentview, wrist) of random primitive scenes."""
    model = mujoco.MjModel.from_xml_string(_scene_xml())
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    renderer = mujoco.Renderer(model, image_size, image_size)
    images = np.zeros((n, 2, image_size, image_size, 3), np.uint8)
    depth = np.zeros((n, 2, image_size, image_size), np.float32)
    intr = np.zeros((n, 2, 3, 3), np.float32)
    extr = np.zeros((n, 2, 4, 4), np.float32)
    try:
        for s in range(n):
            _randomise(model, data, rng)
            mujoco.mj_forward(model, data)
            for cam in range(2):
                renderer.update_scene(data, camera=cam)
                images[s, cam] = renderer.render()
                renderer.enable_depth_rendering()
                depth[s, cam] = renderer.render()
                renderer.disable_depth_rendering()
                intr[s, cam], extr[s, cam] = camera_matrices(model, data, cam, image_size)
    finally:
        renderer.close()
    return RenderSet(images=images, depth=depth, intrinsics=intr, extrinsics=extr)
