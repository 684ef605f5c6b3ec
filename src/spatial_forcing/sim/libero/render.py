"""Camera rendering for LIBERO scenes, outside robosuite's observables.

We render with `mujoco.Renderer` directly on the robosuite model, with the same scene options robosuite
uses (collision geoms, geom group 0, hidden; visual group 1 shown). Without speed-ups the RGB images are
bit-identical to robosuite's `<cam>_image` observations (checked in tests). The only render speed-up
that exists beyond robosuite's defaults is switching MSAA off (`vis.quality.offsamples = 0`); robosuite
already hides the collision geoms. `bench/libero.py` measures the gain and the pixel difference.

Orientation: robosuite returns images in OpenGL row order (upside down); the reference evaluation
(OpenVLA-OFT `get_libero_image`) rotates them by 180 degrees, `raw[::-1, ::-1]`. Relative to the true
camera picture (`mujoco.Renderer` output, upright) that is a left-right mirror: `upright[:, ::-1]`.
Depth is mirrored identically, and the extrinsics carry the mirror (x axis negated, so det(R) = -1),
which keeps `u = K @ (R @ X + t)` exact for the images as delivered; K is a plain pinhole matrix.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

CAMERAS = {"agentview": "agentview", "wrist": "robot0_eye_in_hand"}  # our view name -> MuJoCo camera
_MUJOCO_TO_CV = np.diag([1.0, -1.0, -1.0])  # MuJoCo camera axes (x right, y up, z back) -> OpenCV
_MIRROR = np.diag([-1.0, 1.0, 1.0])  # the left-right mirror of the delivered images, in camera coordinates


def orient(img: np.ndarray) -> np.ndarray:
    """Upright MuJoCo image -> the LIBERO policy orientation (robosuite raw rotated 180 degrees)."""
    return np.ascontiguousarray(img[:, ::-1])


class CameraRenderer:
    """Renders the LIBERO cameras of one MuJoCo model at a fixed square size."""

    def __init__(self, model: mujoco.MjModel, size: int, fast: bool = True, depth: bool = False):
        """fast=True switches MSAA off (a render speed-up); depth=True also renders metric z-depth."""
        self.model = model
        self.size = size
        self.fast = fast
        self.want_depth = depth
        vis = model.vis
        vis.global_.offwidth = max(vis.global_.offwidth, size)
        vis.global_.offheight = max(vis.global_.offheight, size)
        saved = int(vis.quality.offsamples)
        if fast:
            vis.quality.offsamples = 0  # read when the GL context is created
        try:
            self._rgb = mujoco.Renderer(model, size, size)
            self._depth = mujoco.Renderer(model, size, size) if depth else None
        finally:
            vis.quality.offsamples = saved
        if self._depth is not None:
            self._depth.enable_depth_rendering()
        self._scratch = mujoco.MjData(model)  # kinematics recomputed from qpos: renders depend on state only
        self.option = mujoco.MjvOption()
        self.option.geomgroup[0] = 0  # collision geoms hidden, as robosuite (render_collision_mesh=False)
        self.option.geomgroup[1] = 1  # visual geoms shown

    def render(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        """Observation entries for all cameras: images (+ depth, intrinsics, extrinsics if enabled).

        Poses are recomputed from `data.qpos` (after `mj_step`, robosuite's `data.xpos` lag qpos by one
        2 ms substep), so rendering a state restored with `set_sim_state` gives identical images.
        """
        scratch = self._scratch
        scratch.qpos[:] = data.qpos
        scratch.mocap_pos[:], scratch.mocap_quat[:] = data.mocap_pos, data.mocap_quat
        mujoco.mj_kinematics(self.model, scratch)
        mujoco.mj_camlight(self.model, scratch)
        data = scratch
        out: dict[str, np.ndarray] = {}
        for view, cam in CAMERAS.items():
            self._rgb.update_scene(data, camera=cam, scene_option=self.option)
            out[f"observation.images.{view}"] = orient(self._rgb.render())
            if self._depth is not None:
                self._depth.update_scene(data, camera=cam, scene_option=self.option)
                out[f"observation.depth.{view}"] = orient(self._depth.render()).astype(np.float32)
                out[f"observation.intrinsics.{view}"] = self.intrinsics(cam)
                out[f"observation.extrinsics.{view}"] = self.extrinsics(data, cam)
        return out

    def intrinsics(self, cam: str) -> np.ndarray:
        """Pinhole K in pixels (OpenCV, pixel centres at integers); invariant under the mirror."""
        fovy = np.deg2rad(self.model.cam_fovy[self.model.camera(cam).id])
        f = 0.5 * self.size / np.tan(0.5 * fovy)
        c = (self.size - 1) / 2.0
        return np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]], dtype=np.float32)

    @staticmethod
    def extrinsics(data: mujoco.MjData, cam: str) -> np.ndarray:
        """World-to-camera 4x4 in OpenCV axes, including the delivered images' mirror."""
        cam_data = data.camera(cam)
        r_world_cam = cam_data.xmat.reshape(3, 3) @ _MUJOCO_TO_CV
        rot = _MIRROR @ r_world_cam.T
        ext = np.eye(4)
        ext[:3, :3] = rot
        ext[:3, 3] = -rot @ cam_data.xpos
        return ext.astype(np.float32)

    def close(self) -> None:
        """Free the GL contexts (avoids EGL errors at interpreter exit)."""
        for r in (self._rgb, self._depth):
            if r is not None:
                r.close()
        self._rgb = self._depth = None
