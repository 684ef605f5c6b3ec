"""Suite registry: name -> factory, imported lazily (LIBERO is an optional extra). A suite of one's own is
named by its factory, "package.module:factory" (called with no argument), wherever a suite name is taken."""

from __future__ import annotations

from spatial_forcing.sim.suite import Suite
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.loader import load_object

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
    """Build the suite registered under `name`, or the one of factory "package.module:factory"."""
    if name not in SUITES:
        if ":" in name:
            return load_object(name, "env")()
        raise SFError(f"unknown env {name!r}; expected one of {sorted(SUITES)} or package.module:factory")
    target, arg = SUITES[name]
    factory = load_object(target, f"env {name!r}")
    return factory(arg) if arg is not None else factory()
