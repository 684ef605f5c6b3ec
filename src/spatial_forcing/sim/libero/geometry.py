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


def ray_distance(model: mujoco.MjModel, data: mujoco.MjData, start: np.ndarray, direction: np.ndarray,
                 ignore_bodies: set[int], max_dist: float) -> float:
    """Distance along a unit `direction` to the first collision geom (group 0) not on `ignore_bodies`
    (inf when none within `max_dist`); ignored geoms are passed through."""
    geom_id = np.zeros(1, dtype=np.int32)
    groups = np.array([1, 0, 0, 0, 0, 0], dtype=np.uint8)
    start, direction = np.asarray(start, dtype=np.float64), np.asarray(direction, dtype=np.float64)
    travelled = 0.0
    for _ in range(8):  # pass through at most a few ignored geoms
        dist = mujoco.mj_ray(model, data, start + travelled * direction, direction, groups, 1, -1, geom_id)
        if dist < 0 or travelled + dist > max_dist:
            return np.inf
        if int(model.geom_bodyid[geom_id[0]]) not in ignore_bodies:
            return travelled + dist
        travelled += dist + 1e-4
    return np.inf


def overhead_hits(model: mujoco.MjModel, data: mujoco.MjData, points: np.ndarray, reach: float,
                  ignore_bodies: set[int]) -> np.ndarray:
    """For each point [N,3], whether an upward ray meets a collision geom within `reach` metres,
    ignoring geoms on `ignore_bodies` (e.g. the robot and the held object)."""
    up = np.array([0.0, 0.0, 1.0])
    return np.array([ray_distance(model, data, p, up, ignore_bodies, reach) < reach for p in points], dtype=bool)


def escape_shift(model: mujoco.MjModel, data: mujoco.MjData, geoms: np.ndarray, ignore_bodies: set[int],
                 reach: float, max_dist: float, lift: float) -> np.ndarray | None:
    """Shortest horizontal shift (plus `lift` in z) after which nothing hangs over the object made of
    `geoms` within `reach` (upward rays from its top); None when the way up is already free."""
    lo, hi = world_box(model, data, geoms)
    centre, half = (lo[:2] + hi[:2]) / 2, (hi[:2] - lo[:2]) / 2
    ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring = np.concatenate([np.stack([np.cos(ang), np.sin(ang)], 1) * half * f for f in (0.5, 0.9)])
    top = np.concatenate([centre + ring, centre[None]])
    pts = np.column_stack([top, np.full(len(top), hi[2] + 0.002)])
    blocked = overhead_hits(model, data, pts, reach, ignore_bodies)
    if not blocked.any():
        return None
    away = -unit((top[blocked] - centre).mean(0))  # prefer pulling away from the overhang
    dirs = [np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)]
    dirs.sort(key=lambda d: -float(d @ away))
    for dist in np.arange(0.01, max_dist + 1e-9, 0.01):
        for d in dirs:
            shift = np.array([*(d * dist), lift])
            if not overhead_hits(model, data, pts + shift, reach, ignore_bodies).any():
                return shift
    return np.array([*(away * max_dist), lift])
