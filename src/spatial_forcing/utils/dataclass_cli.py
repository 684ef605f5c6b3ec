"""Expose a (nested) config dataclass as `--field` / `--group.field` command-line options: every `sf`
subcommand is a config dataclass driven through here.

The help text of each option is the comment written after the field in the dataclass source. A field
without a default is a required option; `positional` fields are arguments instead (optional when they
have a default). Lists of ids take '0-4,7'; lists of names take 'a,b' or 'a b'.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import typing
from typing import Any

from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import int_ranges_type

_FIELD_COMMENT = re.compile(r"^\s*(\w+)\s*:.*?#\s*(.+)$")


def _comments(cls: type) -> dict[str, str]:
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return {m.group(1): m.group(2).strip() for m in map(_FIELD_COMMENT.match, source.splitlines()) if m}


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_str_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _parse_float_list(text: str) -> list[float]:
    """'0.5,1,2e-3' -> list of floats; '' -> []."""
    try:
        return [float(p) for p in _parse_str_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _parse_json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"invalid JSON {text!r} ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _parser_for(tp: Any):
    origin = typing.get_origin(tp)
    if tp is bool:
        return _parse_bool, "BOOL"
    if tp in (int, float, str):
        return tp, tp.__name__.upper()
    if origin is list:
        (inner,) = typing.get_args(tp)
        if inner is int:  # ids: '1,2,5', '0-9', '0-4,7'; '' = [] (the field says what empty means)
            return int_ranges_type(allow_empty=True), "INTS"
        return (_parse_float_list, "FLOATS") if inner is float else (_parse_str_list, "LIST")
    if origin is dict:
        return _parse_json_object, "JSON"
    raise TypeError(f"unsupported config field type {tp!r}")


class _Names(argparse.Action):
    """`--cameras agentview wrist` and `--cameras agentview,wrist` alike: one flat list."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [name for value in values for name in value])


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "",
                       skip: tuple[str, ...] = (), positional: tuple[str, ...] = ()) -> None:
    """Add one option per field of `cls` (recursing into dataclass fields as `--name.field`), and the
    `positional` fields as arguments."""
    hints = typing.get_type_hints(cls)
    comments = _comments(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            add_dataclass_args(parser, tp, prefix=f"{name}.")
            continue
        parse, metavar = _parser_for(tp)
        help_text = comments.get(f.name, "").replace("%", "%%")
        if f.name in positional:
            extra = {"nargs": "?", "default": argparse.SUPPRESS} if _has_default(f) else {}
            if metavar == "LIST":  # one or more arguments (`sf report DIR [DIR ...]`)
                extra = {"nargs": "+", "action": _Names}
            parser.add_argument(name, type=parse, metavar=f.name.upper(), help=help_text, **extra)
            continue
        if tp is bool:  # a bare flag means true (`--overwrite`); `--flag false` still turns one off
            extra = {"nargs": "?", "const": True}
        elif metavar == "LIST":
            extra = {"nargs": "+", "action": _Names}
        else:
            extra = {}
        if not _has_default(f):
            extra["required"] = True
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=parse, metavar=metavar, **extra,
                            default=argparse.SUPPRESS, help=help_text)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Nested dict of the options given on the command line (dots become nesting)."""
    out: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key in ("func", "command", "action", "verbose"):
            continue
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def build_config(cls: type, values: dict[str, Any]) -> Any:
    """Instantiate `cls` from a nested dict, recursing into dataclass-typed fields."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise SFError(f"{cls.__name__}: unknown field(s) {unknown}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        v = values[f.name]
        kwargs[f.name] = build_config(hints[f.name], v) if dataclasses.is_dataclass(hints[f.name]) else v
    return cls(**kwargs)
