"""Where the scripted LIBERO expert grasps: the rim side of a bowl, the closing direction of an item.

A mixin of `PickPlaceExpert` (it reads the expert's model, data, config and grasp memory). Bowls are
held by the rim with the fingers closing radially; the side is chosen by the clearance of the outer
finger, preferring a raised rim and avoiding sides already tried. Items close across their narrower
horizontal side, turned by up to 45 degrees when a neighbour blocks a finger.
"""

from __future__ import annotations

import numpy as np

from spatial_forcing.sim.libero import geometry as geo


class GraspChoice:
    """Grasp-point and grasp-side selection for `PickPlaceExpert`."""

    def _grasp(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Current grasp point (world), finger closing axis (unit 3-d) and approach 'up' (None = world z)."""
        rot, pos = self.data.xmat[self.obj_id].reshape(3, 3), self.data.xpos[self.obj_id]
        if self.is_bowl:
            if self.side is None:
                self.side = self._choose_side(rot, pos)
            local = np.array([*(self.cfg.rim_radius * self.side), self.cfg.rim_height])
            radial = rot @ np.array([self.side[0], self.side[1], 0.0])
            return pos + rot @ local, radial, self._limit_tilt(rot[:, 2])
        lo, hi = geo.body_frame_box(self.model, self.data, self.obj_id, self.obj_geoms)
        up = int(np.argmax(np.abs(rot[2])))  # body axis closest to world z
        horiz = [i for i in range(3) if i != up]
        narrow, wide = sorted(horiz, key=lambda i: hi[i] - lo[i])
        centre = pos + rot @ ((lo + hi) / 2)
        wlo, whi = geo.world_box(self.model, self.data, self.obj_geoms)
        depth = min(self.cfg.top_depth, 0.5 * (whi[2] - wlo[2]))
        point = np.array([centre[0], centre[1], whi[2] - depth])
        if self.side is None:
            half = ((hi - lo) / 2)[[narrow, wide]]
            self.side = self._choose_angle(point, geo.unit(rot[:2, narrow]), geo.unit(rot[:2, wide]), half)
        return point, np.array([self.side[0], self.side[1], 0.0]), None

    def _choose_angle(self, point: np.ndarray, narrow: np.ndarray, wide: np.ndarray,
                      half: np.ndarray) -> np.ndarray:
        """Closing direction near the narrow axis that fits in the hand and keeps both fingers free."""
        lo, hi = geo.geom_world_boxes(self.model, self.data, self.other_geoms)
        tall = hi[:, 2] > point[2] - 0.02
        best, best_score = narrow, -np.inf
        for deg in (0, 15, -15, 30, -30, 45, -45):
            th = np.deg2rad(deg)
            width = 2 * (half[0] * abs(np.cos(th)) + half[1] * abs(np.sin(th)))
            if width > self.cfg.max_grip_width and deg != 0:
                continue
            d = np.cos(th) * narrow + np.sin(th) * wide
            room = min(geo.horizontal_clearance(point[:2] + s * self.cfg.finger_reach * d, lo[tall], hi[tall])
                       for s in (-1, 1))
            score = min(room, 0.02) - 0.0002 * abs(deg) - 0.03 * any(np.allclose(d, t) for t in self.tried)
            if score > best_score:
                best, best_score = d, score
        self.tried.append(best)
        return best

    def _limit_tilt(self, up: np.ndarray) -> np.ndarray:
        """Tilt the approach towards the bowl axis, at most `max_tilt` radians away from world z."""
        tilt = np.arccos(np.clip(up[2], -1.0, 1.0))
        if tilt <= self.cfg.max_tilt:
            return up.copy()
        horiz = geo.unit(up[:2])
        return np.array([*(horiz * np.sin(self.cfg.max_tilt)), np.cos(self.cfg.max_tilt)])

    def _choose_side(self, rot: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Rim direction (bowl frame, unit xy) with the most room for the outer finger; ties favour the
        robot side, and a raised rim (tilted bowl) is preferred."""
        lo, hi = geo.geom_world_boxes(self.model, self.data, self.other_geoms)
        best, best_score = None, -np.inf
        for ang in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            d = np.array([np.cos(ang), np.sin(ang)])
            point = pos + rot @ np.array([*(d * (self.cfg.rim_radius + 0.035)), self.cfg.rim_height])
            tall = hi[:, 2] > point[2] - 0.03
            room = min(geo.horizontal_clearance(point, lo[tall], hi[tall]), 0.04)
            if room <= 0:  # boxes of rotated meshes (a drawer) cover everything: ask rays instead
                room -= self._finger_blocked(rot, pos, d)
            world_d = geo.unit((rot @ np.array([d[0], d[1], 0.0]))[:2])
            # the robot sits at -x
            score = room - 0.004 * world_d[0] + self.cfg.height_weight * (point[2] - pos[2])
            score -= self.cfg.tried_penalty * any(d @ t > np.cos(np.pi / 5) for t in self.tried_sides)
            if score > best_score:
                best, best_score = d, score
        return best

    def _finger_blocked(self, rot: np.ndarray, pos: np.ndarray, d: np.ndarray) -> float:
        """Fraction of downward rays at the outer finger's landing spot (rim side `d`, bowl frame) that
        meet an obstacle (e.g. a drawer wall) above the grasp height."""
        tangent = np.array([-d[1], d[0]])
        down = np.array([0.0, 0.0, -1.0])
        rays = 0.12
        hits = []
        for r_off in (0.035, 0.048):
            for t in (-0.01, 0.0, 0.01):
                local = np.array([*(d * (self.cfg.rim_radius + r_off) + tangent * t), self.cfg.rim_height])
                start = pos + rot @ local + np.array([0.0, 0.0, rays])
                hits.append(geo.ray_distance(self.model, self.data, start, down, self.ignore_bodies, rays + 0.01)
                            < rays + 0.005)
        return float(np.mean(hits))

    def _retry_side(self, remember: bool = True) -> None:
        """Choose the grasp side again; `remember`: avoid the current one (it stalled the arm)."""
        if remember and self.is_bowl and self.side is not None:
            self.tried_sides.append(self.side)
        self.side = None
        self.t = 0
