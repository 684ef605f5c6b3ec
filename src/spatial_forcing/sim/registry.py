"""Suite registry: name -> factory, imported lazily (LIBERO is an optional extra)."""

from __future__ import annotations

import importlib

from spatial_forcing.sim.suite import Suite
from spatial_forcing.utils.errors import SFError

# name -> ("module:callable", positional argument or None)
SUITES: dict[str, tuple[str, str | None]] = {
    "tabletop": ("spatial_forcing.sim.tabletop.suite:TabletopSuite", None),
    "tabletop_train": ("spatial_forcing.sim.tabletop.suite:TabletopSuite", "train"),
    "libero_spatial": ("spatial_forcing.sim.libero.suite:LiberoSuite", "libero_spatial"),
    "libero_object": ("spatial_forcing.sim.libero.suite:LiberoSuite", "libero_object"),
    "libero_goal": ("spatial_forcing.sim.libero.suite:LiberoSuite", "libero_goal"),
    "libero_10": ("spatial_forcing.sim.libero.suite:LiberoSuite", "libero_10"),
}


def get_suite(name: str) -> Suite:
    """Build the suite registered under `name`."""
    if name not in SUITES:
        raise SFError(f"unknown env {name!r}; expected one of {sorted(SUITES)}")
    target, arg = SUITES[name]
    module_name, attr = target.split(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(arg) if arg is not None else factory()
