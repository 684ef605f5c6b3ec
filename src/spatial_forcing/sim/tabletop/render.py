"""Offscreen rendering of the two tabletop cameras: RGB, optionally metric depth, semantic segmentation and
camera parameters."""

from __future__ import annotations

import atexit
import os
import weakref

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco  # noqa: E402

from spatial_forcing.sim.tabletop import camera, scene, semantics  # noqa: E402

CAMERAS = ("agentview", "wrist")  # fixed view order shared with the models


class CameraViews:
    """One `mujoco.Renderer` reused for both cameras. Collision-only geoms (group 3) are hidden."""

    def __init__(self, model: mujoco.MjModel, image_size: int, render_depth: bool = False):
        self.model = model
        self.size = int(image_size)
        self.render_depth = bool(render_depth)
        self.renderer = mujoco.Renderer(model, self.size, self.size)
        # Registered after mujoco's own EGL atexit hook (which runs on first renderer creation), so this
        # runs first (LIFO) and frees the context while the display still exists: no errors at exit.
        atexit.register(_close_if_alive, weakref.ref(self))
        self.option = mujoco.MjvOption()
        self.option.geomgroup[scene.HIDDEN_GROUP] = 0
        self.option.sitegroup[:] = 0
        self._cam_ids = {c: model.camera(c).id for c in CAMERAS}
        self._intr = {c: camera.intrinsics(float(model.cam_fovy[i]), self.size, self.size)
                      for c, i in self._cam_ids.items()}
        self._geom_class = semantics.geom_classes(model)

    def intrinsics(self, cam: str) -> np.ndarray:
        """[3, 3] pixel intrinsics of `cam` (constant)."""
        return self._intr[cam].copy()

    def extrinsics(self, data: mujoco.MjData, cam: str) -> np.ndarray:
        """[4, 4] world-to-camera transform of `cam` for the current (forwarded) state."""
        i = self._cam_ids[cam]
        return camera.extrinsics(data.cam_xpos[i], data.cam_xmat[i])

    def render(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        """Observation entries for every camera: images, and depth/segmentation/intrinsics/extrinsics if
        enabled."""
        out: dict[str, np.ndarray] = {}
        for cam in CAMERAS:
            self.renderer.update_scene(data, camera=cam, scene_option=self.option)
            out[f"observation.images.{cam}"] = self.renderer.render().copy()
            if self.render_depth:
                self.renderer.enable_depth_rendering()
                out[f"observation.depth.{cam}"] = self.renderer.render().astype(np.float32)
                self.renderer.disable_depth_rendering()
                out[f"observation.segmentation.{cam}"] = self._segmentation()
                out[f"observation.intrinsics.{cam}"] = self.intrinsics(cam)
                out[f"observation.extrinsics.{cam}"] = self.extrinsics(data, cam)
        return out

    def _segmentation(self) -> np.ndarray:
        """uint8 [H, W] semantic class (`semantics`) per pixel of the scene last updated."""
        self.renderer.enable_segmentation_rendering()
        ids = self.renderer.render()  # int32 [H, W, 2]: (object id, object type), -1 where no object
        self.renderer.disable_segmentation_rendering()
        is_geom = (ids[..., 1] == mujoco.mjtObj.mjOBJ_GEOM) & (ids[..., 0] >= 0)
        classes = self._geom_class[np.clip(ids[..., 0], 0, None)]
        return np.where(is_geom, classes, semantics.NONE).astype(np.uint8)

    def close(self) -> None:
        """Release the GL context."""
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None


def _close_if_alive(ref: "weakref.ref[CameraViews]") -> None:
    views = ref()
    if views is not None:
        views.close()
