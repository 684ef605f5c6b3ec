"""The tabletop scene as MJCF: table, mocap-welded two-finger gripper, cameras and primitive props.

World frame: the table top is the plane z = 0, the (notional) robot stands at -x and faces +x.
The `agentview` camera looks at the table from the far side (+x) at about 45 degrees, so in its image the
robot is at the top, and image-left is world -y. The gripper body origin is the tool centre point (TCP),
midway between the fingertips' grasp region; identity orientation means "pointing down".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

TIMESTEP = 0.002  # physics step (s)
HOME_TCP = (-0.13, 0.0, 0.2)  # gripper start position (m)
FINGER_OPEN = 0.04  # finger joint travel when fully open (m); each inner face moves this far from the centre
HIDDEN_GROUP = 3  # geom group for collision-only geoms, never rendered
AGENTVIEW_POS = (0.36, 0.0, 0.52)  # agentview camera position (m)
AGENTVIEW_TARGET = (-0.09, 0.0, 0.0)  # point the agentview camera looks at (m)
AGENTVIEW_FOVY = 50.0  # vertical field of view (deg)
WRIST_FOVY = 75.0  # wrist camera vertical field of view (deg)
WRIST_CAM_POS = (0.0, -0.032, 0.06)  # wrist camera position in the hand frame (m), beside the palm
WRIST_CAM_TARGET = (0.0, 0.0, -0.02)  # hand-frame point it looks at: just below the fingertips


@dataclass(frozen=True)
class Prop:
    """A primitive object. Movable props get a free joint; landmarks are static mocap bodies."""

    name: str  # body name
    shape: str  # MuJoCo geom type: "box" or "cylinder"
    size: tuple[float, ...]  # MuJoCo geom size (half extents / radius + half height)
    rgba: tuple[float, float, float, float]  # colour
    movable: bool  # True: pickable (free joint); False: landmark positioned through mocap
    footprint: float  # radius used for clearance when sampling layouts (m)

    @property
    def height(self) -> float:
        """Full height of the prop (m)."""
        return 2.0 * self.size[-1]


RED = (0.85, 0.12, 0.1, 1.0)
BLUE = (0.1, 0.3, 0.9, 1.0)
PLATE = (0.95, 0.95, 0.9, 1.0)
GREEN = (0.15, 0.6, 0.25, 1.0)
BLOCK_HALF = 0.0225  # half edge of the pickable cube (m)

PROPS: dict[str, Prop] = {
    "block_0": Prop("block_0", "box", (BLOCK_HALF,) * 3, RED, True, 0.032),
    "block_1": Prop("block_1", "box", (BLOCK_HALF,) * 3, RED, True, 0.032),
    "cylinder": Prop("cylinder", "cylinder", (0.025, 0.045), BLUE, False, 0.027),
    "plate_0": Prop("plate_0", "cylinder", (0.06, 0.005), PLATE, False, 0.06),
    "plate_1": Prop("plate_1", "cylinder", (0.06, 0.005), PLATE, False, 0.06),
    "box_tall": Prop("box_tall", "box", (0.03, 0.03, 0.045), GREEN, False, 0.043),
    "box_short": Prop("box_short", "box", (0.03, 0.03, 0.0175), GREEN, False, 0.043),
}


def look_at_xyaxes(pos: tuple[float, ...], target: tuple[float, ...]) -> np.ndarray:
    """MuJoCo camera `xyaxes` (image right, image up) for a camera at `pos` looking at `target`."""
    forward = np.asarray(target, float) - np.asarray(pos, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.concatenate([right, up])


def _fmt(values) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _prop_xml(prop: Prop) -> str:
    """A prop body. Landmarks are mocap bodies whose origin sits on the table, geom raised by half height."""
    geom = (f'<geom name="{prop.name}" type="{prop.shape}" size="{_fmt(prop.size)}" rgba="{_fmt(prop.rgba)}"'
            f' friction="1 0.01 0.001"')
    if prop.movable:
        return (f'<body name="{prop.name}" pos="0 0 {prop.size[-1]}"><freejoint name="{prop.name}"/>'
                f'{geom} mass="0.05" condim="4"/></body>')
    return (f'<body name="{prop.name}" mocap="true" pos="0 0 0">'
            f'{geom} pos="0 0 {prop.size[-1]}"/></body>')


def _gripper_xml() -> str:
    """Free-floating hand welded to the `gripper_target` mocap body, with two slide fingers along body x."""
    finger = ('<body name="finger_{s}" pos="0 0 0" gravcomp="1">'
              '<joint name="finger_{s}" type="slide" axis="{a} 0 0" range="0 {o}" damping="2"/>'
              '<geom name="finger_{s}" type="box" size="0.006 0.012 0.03" pos="{x} 0 0.02"'
              ' rgba="0.25 0.25 0.28 1"'
              ' friction="1.5 0.02 0.002" condim="4" mass="0.02"/></body>')
    wrist_xy = look_at_xyaxes(WRIST_CAM_POS, WRIST_CAM_TARGET)
    return (
        f'<body name="gripper_target" mocap="true" pos="{_fmt(HOME_TCP)}"/>'
        f'<body name="hand" pos="{_fmt(HOME_TCP)}" gravcomp="1">'
        '<freejoint name="hand"/>'
        '<geom name="palm" type="box" size="0.058 0.02 0.012" pos="0 0 0.062" rgba="0.35 0.35 0.38 1"'
        ' mass="0.2"/>'
        '<geom name="wrist_link" type="cylinder" size="0.022 0.04" pos="0 0 0.114" rgba="0.8 0.8 0.82 1"'
        ' mass="0.1"/>'
        f'<camera name="wrist" pos="{_fmt(WRIST_CAM_POS)}" xyaxes="{_fmt(wrist_xy)}" fovy="{WRIST_FOVY}"/>'
        '<site name="tcp" pos="0 0 0" size="0.004" group="5"/>'
        + finger.format(s="r", a=1, o=FINGER_OPEN, x=0.006)
        + finger.format(s="l", a=-1, o=FINGER_OPEN, x=-0.006)
        + '</body>'
    )


def build_mjcf(prop_names: list[str] | tuple[str, ...], image_size: int = 128) -> str:
    """The full MJCF for a scene containing the named props; `image_size` sizes the offscreen buffer."""
    off = max(int(image_size), 64)
    props = "".join(_prop_xml(PROPS[name]) for name in prop_names)
    xy = look_at_xyaxes(AGENTVIEW_POS, AGENTVIEW_TARGET)
    return f"""
<mujoco model="sf_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <statistic extent="1" center="0 0 0"/>
  <visual>
    <global offwidth="{off}" offheight="{off}"/>
    <quality shadowsize="0" offsamples="0"/>
    <map znear="0.01" zfar="4"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
  </visual>
  <worldbody>
    <light name="top" directional="true" pos="0 0 2" dir="0.2 0.1 -1" castshadow="false"
           diffuse="0.35 0.35 0.35" specular="0 0 0"/>
    <geom name="table" type="box" size="0.42 0.42 0.02" pos="-0.02 0 -0.02" rgba="0.62 0.48 0.34 1"/>
    <geom name="robot_base" type="cylinder" size="0.07 0.05" pos="-0.4 0 0.05" rgba="0.15 0.15 0.17 1"/>
    <camera name="agentview" pos="{_fmt(AGENTVIEW_POS)}" xyaxes="{_fmt(xy)}" fovy="{AGENTVIEW_FOVY}"/>
    {_gripper_xml()}
    {props}
  </worldbody>
  <contact><exclude body1="finger_r" body2="finger_l"/></contact>
  <equality><weld body1="gripper_target" body2="hand" solref="0.01 1"/></equality>
  <actuator>
    <position name="finger_r" joint="finger_r" kp="150" ctrlrange="0 {FINGER_OPEN}" forcerange="-6 6"/>
    <position name="finger_l" joint="finger_l" kp="150" ctrlrange="0 {FINGER_OPEN}" forcerange="-6 6"/>
  </actuator>
</mujoco>
"""
