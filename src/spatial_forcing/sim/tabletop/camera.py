"""Pinhole camera parameters of MuJoCo cameras in the OpenCV convention (x right, y down, z forward)."""

from __future__ import annotations

import math

import numpy as np

# MuJoCo cameras look along their -z with y up; OpenCV looks along +z with y down.
_MJ_TO_CV = np.diag([1.0, -1.0, -1.0])


def intrinsics(fovy_deg: float, height: int, width: int) -> np.ndarray:
    """[3, 3] pixel intrinsics. MuJoCo's frustum is symmetric, fovy is vertical and pixels are square;
    pixel centres sit at integer coordinates, so the principal point is ((W-1)/2, (H-1)/2)."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]], np.float32)


def extrinsics(cam_pos: np.ndarray, cam_xmat: np.ndarray) -> np.ndarray:
    """[4, 4] world-to-camera transform from MuJoCo's camera pose (`data.cam_xpos`, `data.cam_xmat`)."""
    rot_c2w = np.asarray(cam_xmat, float).reshape(3, 3)
    rot = _MJ_TO_CV @ rot_c2w.T
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = -rot @ np.asarray(cam_pos, float)
    return out.astype(np.float32)


def project(points_world: np.ndarray, intr: np.ndarray, extr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project [N, 3] world points: returns pixel coordinates [N, 2] (u, v) and camera depths z [N]."""
    pts = np.asarray(points_world, float)
    cam = pts @ extr[:3, :3].T + extr[:3, 3]
    uvw = cam @ intr.T
    return uvw[:, :2] / uvw[:, 2:3], cam[:, 2]


def backproject(depth: np.ndarray, intr: np.ndarray, extr: np.ndarray) -> np.ndarray:
    """Lift a [H, W] z-depth map to world points [H, W, 3]."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(float)
    x = (u - intr[0, 2]) / intr[0, 0] * depth
    y = (v - intr[1, 2]) / intr[1, 1] * depth
    cam = np.stack([x, y, depth], axis=-1)
    rot, t = extr[:3, :3].astype(float), extr[:3, 3].astype(float)
    return (cam - t) @ rot
