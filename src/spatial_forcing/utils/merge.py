"""Deep merge of nested config dicts: a config file under command-line flags, variants over a base plan."""

from __future__ import annotations

import copy
from typing import Any


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, recursing where both sides hold a dict; lists and scalars are replaced.

    Neither input is modified, and the result shares no nested dict or list with them."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
