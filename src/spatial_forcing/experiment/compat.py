"""May an experiment directory made from one plan continue with another? Only if seeds or variants were added
(or the claims it answers changed: they only steer `sf report`).

Everything else (name, dataset, held-out dataset, common train fields, existing variants' overrides, the
reference variant, the final evaluation) decides what the finished runs mean, so a change there needs a new
directory.
"""

from __future__ import annotations

from typing import Any

from spatial_forcing.experiment.plan import ExperimentPlan


def plan_change(stored: dict[str, Any], new: ExperimentPlan) -> str | None:
    """None if `new` is `stored` (a plan's dict) plus seeds and/or variants; else the first difference."""
    new_dict = new.to_dict()
    for key in ("name", "dataset", "train", "eval"):
        diff = first_difference(stored.get(key), new_dict[key], key)
        if diff:
            return diff
    for key, absent in (("fractions", []), ("val_dataset", {})):
        diff = first_difference(stored.get(key, absent), new_dict[key], key)
        if diff:
            return diff
    old_variants = stored.get("variants") or {}
    first = next(iter(new.variants))
    if old_variants and next(iter(old_variants)) != first:
        return f"reference (first) variant: {next(iter(old_variants))!r} -> {first!r}"
    for name, overrides in old_variants.items():
        if name not in new.variants:
            return f"variants.{name}: removed"
        diff = first_difference(overrides, new.variants[name], f"variants.{name}")
        if diff:
            return diff
    removed = [s for s in stored.get("seeds", []) if s not in new.seeds]
    if removed:
        return f"seeds {removed}: removed"
    return None


def first_difference(old: Any, new: Any, path: str) -> str | None:
    """'path.to.field: OLD -> NEW' for the first differing leaf (dicts recursed in key order), else None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            diff = first_difference(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{path}.{key}")
            if diff:
                return diff
        return None
    if old == new and type(old) is type(new):
        return None
    return f"{path}: {_short(old)} -> {_short(new)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
