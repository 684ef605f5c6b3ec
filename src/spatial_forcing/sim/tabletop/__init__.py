"""A fast, project-owned MuJoCo tabletop suite with a LIBERO-shaped interface (primitive shapes only)."""

import os

# Headless rendering by default; must happen before the first `import mujoco`.
os.environ.setdefault("MUJOCO_GL", "egl")

import logging

# PyOpenGL (imported by mujoco's EGL backend) logs an INFO line about a missing accelerator module.
logging.getLogger("OpenGL").setLevel(logging.WARNING)
