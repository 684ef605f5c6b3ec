"""The one loader of "package.module:name" entries, used by every registry (teachers, suites, VLA policies,
VLM adapters) and wherever a user may name their own factory (`sf generate --env my.pkg:make_suite`).

Registries hold these strings rather than objects so that an optional entry (LIBERO, transformers) costs
nothing until it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from spatial_forcing.utils.errors import SFError


def load_object(spec: str, what: str = "factory") -> Any:
    """The object `name` of module `package.module` for "package.module:name"; one-line SFError (naming
    `what`) for a malformed spec, a module that does not exist or a missing name. A module that exists but
    fails to import (a missing dependency of it) raises its own error."""
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name or not attr:
        raise SFError(f"{what} {spec!r}: expected package.module:name")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is None or not (module_name == err.name or module_name.startswith(err.name + ".")):
            raise  # the module is there; something it imports is not
        raise SFError(f"{what} {spec!r}: no module {err.name!r}") from None
    obj: Any = module
    for part in attr.split("."):  # "module:Class.method" too
        if not hasattr(obj, part):
            raise SFError(f"{what} {spec!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    return obj
