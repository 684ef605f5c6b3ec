"""Interop with other frameworks (LeRobot): file-level, no import of them here unless said."""
