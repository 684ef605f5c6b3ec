"""Strict check of JSON values against a config dataclass's field types, before the dataclass is built.

`TrainConfig(**json)` accepts `"steps": "10"` and fails much later; `check_fields` refuses it up front with
one line naming where the value sits, e.g. `plan.json: variants.sf.align.alpha: expected a number, got '0.5'`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from spatial_forcing.utils.errors import SFError


def check_fields(cls: type, values: Any, where: str) -> None:
    """Raise SFError unless `values` is a dict of known fields of dataclass `cls` with values of their types
    (nested dataclass fields are dicts checked the same way)."""
    if not isinstance(values, dict):
        raise SFError(f"{where}: expected a JSON object of {cls.__name__} fields, got {_show(values)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key, value in values.items():
        if key not in names:
            raise SFError(f"{where}.{key}: unknown {cls.__name__} field; expected one of {names}")
        check_value(hints[key], value, f"{where}.{key}")


def check_value(tp: Any, value: Any, where: str) -> None:
    """Raise SFError unless `value` (parsed JSON) fits type `tp`."""
    if dataclasses.is_dataclass(tp):
        check_fields(tp, value, where)
        return
    if not _fits(tp, value):
        raise SFError(f"{where}: expected {_describe(tp)}, got {_show(value)}")


def _fits(tp: Any, value: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(a, value) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(args[0], v) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_fits(args[1], v) for v in value.values())
    raise TypeError(f"unsupported config field type {tp!r}")


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a JSON object"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            type(None): "null"}.get(tp, str(tp))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
