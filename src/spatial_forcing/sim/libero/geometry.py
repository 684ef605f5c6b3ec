"""Privileged scene geometry for the LIBERO scripted expert: object boxes, grasp sides, clearances."""

from __future__ import annotations

import mujoco
import numpy as np


def subtree_geoms(model: mujoco.MjModel, body_id: int) -> np.ndarray:
    """Ids of all geoms on `body_id` or its descendants."""
    ids = []
    for g in range(model.ngeom):
        b = int(model.geom_bodyid[g])
        while b > 0 and b != body_id:
            b = int(model.body_parentid[b])
        if b == body_id:
            ids.append(g)
    return np.array(ids, dtype=int)


def geom_world_boxes(model: mujoco.MjModel, data: mujoco.MjData,
                     geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned boxes (lo [N,3], hi [N,3]) of the given geoms."""
    rot = data.geom_xmat[geoms].reshape(-1, 3, 3)
    centre = data.geom_xpos[geoms] + np.einsum("nij,nj->ni", rot, model.geom_aabb[geoms, :3])
    half = np.einsum("nij,nj->ni", np.abs(rot), model.geom_aabb[geoms, 3:])
    return centre - half, centre + half


def world_box(model: mujoco.MjModel, data: mujoco.MjData, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One world axis-aligned box around all the given geoms."""
    lo, hi = geom_world_boxes(model, data, geoms)
    return lo.min(0), hi.max(0)


def body_frame_box(model: mujoco.MjModel, data: mujoco.MjData, body_id: int,
                   geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box (lo, hi) of the geoms expressed in the body's own frame (collision geoms only if present)."""
    coll = geoms[model.geom_group[geoms] == 0]
    geoms = coll if len(coll) else geoms
    r_body = data.xmat[body_id].reshape(3, 3)
    pts = []
    for g in geoms:
        rot = data.geom_xmat[g].reshape(3, 3)
        c, h = model.geom_aabb[g, :3], model.geom_aabb[g, 3:]
        for sx in (-1, 1):
            for sy in (-1, 1):
                for sz in (-1, 1):
                    world = data.geom_xpos[g] + rot @ (c + h * np.array([sx, sy, sz]))
                    pts.append(r_body.T @ (world - data.xpos[body_id]))
    pts = np.array(pts)
    return pts.min(0), pts.max(0)


def horizontal_clearance(point: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Smallest xy distance from `point` to a set of boxes (0 when inside one)."""
    if len(lo) == 0:
        return np.inf
    dx = np.maximum(np.maximum(lo[:, 0] - point[0], point[0] - hi[:, 0]), 0.0)
    dy = np.maximum(np.maximum(lo[:, 1] - point[1], point[1] - hi[:, 1]), 0.0)
    return float(np.min(np.hypot(dx, dy)))


def axis_angle(mat: np.ndarray) -> np.ndarray:
    """Rotation matrix -> axis * angle."""
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(mat).reshape(9))
    if quat[0] < 0:
        quat = -quat
    sin = np.linalg.norm(quat[1:])
    return quat[1:] * (2.0 * np.arctan2(sin, quat[0]) / sin) if sin > 1e-9 else np.zeros(3)


def unit(v: np.ndarray) -> np.ndarray:
    """Normalised vector (x axis for a zero vector)."""
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else np.array([1.0, 0.0])
