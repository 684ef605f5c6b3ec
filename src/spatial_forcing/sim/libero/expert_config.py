"""Gains, heights and tolerances of the scripted LIBERO expert (metres, steps, radians)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExpertConfig:
    """Gains and heights of the scripted expert (metres, steps)."""

    settle_steps: int = 10  # open-gripper no-op steps first (LIBERO's num_steps_wait)
    pos_gain: float = 10.0  # action units per metre of position error (1 unit = 5 cm/step for OSC_POSE)
    rot_gain: float = 1.6  # action units per radian of orientation error (1 unit = 0.5 rad)
    hover: float = 0.10  # pre-grasp height above the grasp point
    rim_radius: float = 0.047  # bowl wall distance from the bowl axis
    rim_height: float = 0.035  # grasp height on the bowl wall, above the bowl origin
    top_depth: float = 0.03  # how far below an item's top the fingers close
    close_steps: int = 12  # steps with the gripper closing before lifting
    release_steps: int = 10  # steps with the gripper opening at the goal
    place_gap: float = 0.015  # object bottom above the plate top when releasing
    lift_clear: float = 0.07  # object bottom above the place target's top while transporting
    max_tilt: float = 0.35  # largest gripper tilt from vertical when following a tilted bowl (rad)
    height_weight: float = 0.5  # side choice: score per metre of rim height (favours the raised rim)
    max_grip_width: float = 0.07  # widest object section the open hand (8 cm) closes across
    finger_reach: float = 0.045  # finger distance from the grasp centre when open
    obstacle_margin: float = 0.03  # xy margin around the object when looking for walls to clear
    approach_tol: float = 0.02  # pre-grasp position reached (m); the descent keeps correcting xy
    approach_rot_tol: float = 0.1  # pre-grasp orientation reached (rad)
    carry_tol: float = 0.03  # lift height / transport xy reached (m); the next phase keeps correcting
    lower_overshoot: float = 0.02  # the lowering target lies this far below the release height (m)
    lost_drift: float = 0.10  # object moved this far in the hand: lost (rim-held bowls pivot by ~3 cm)
    max_phase_steps: int = 60  # any phase gives up (moves on) after this many steps
    escape_reach: float = 0.10  # free height needed above the grasped object before lifting (m)
    escape_max: float = 0.06  # longest horizontal pull out from under an overhang (drawer frame) (m)
    escape_lift: float = 0.004  # small lift during that pull (m): off the drawer floor, under the frame
    stall_window: int = 8  # approach steps compared to detect a stall (arm at its reach / joint limits)
    stall_progress: float = 0.003  # less progress than this over the window is a stall (m)
    stall_distance: float = 0.05  # ... while still this far from the pre-grasp pose (slow convergence is fine)
    tried_penalty: float = 0.05  # side-choice score removed from rim sides already tried (near them)
    place_speed: float = 0.004  # release only once the object descends slower than this (m/step) ...
    place_align: float = 0.01  # ... and sits within this xy distance of the goal (m); else hold
    place_hold_steps: int = 8  # at most this many holding steps before releasing anyway
    wrist_margin: float = 0.8  # keep the wrist joint's predicted end this far inside its range (rad)
    tilt_lead: float = 0.06  # bowls: aim the centre this far (m per unit of axis tilt) up-tilt of the goal
