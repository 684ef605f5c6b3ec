"""The one syntax for lists of ids on the command line and in plans: '3', '0-49' (both ends included),
'0-4,7'. Every option that takes task or initial-state ids parses it here, so all of them accept the
same text and reject the same mistakes with the same one-line message."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from typing import Callable, Iterable

from spatial_forcing.utils.errors import SFError

_PART = re.compile(r"(\d+)(?:-(\d+))?", re.ASCII)
_SYNTAX = "expected ids like 3, 0-49 (both ends included) or 0-4,7"


def parse_int_ranges(text: str, option: str = "", allow_empty: bool = False) -> list[int]:
    """The ids of `text`, in the order written. SFError (naming `option`) for anything but non-negative
    integers and A-B ranges with A <= B, for an id given twice, and for no ids unless `allow_empty`."""

    def fail(reason: str) -> SFError:
        return SFError(f"{option} {text!r}: {reason}".lstrip())

    ids: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        match = _PART.fullmatch(part)
        if not match:
            raise fail(_SYNTAX)
        lo = int(match[1])
        hi = lo if match[2] is None else int(match[2])
        if hi < lo:
            raise fail(f"{part} is a reversed range (no ids); write A-B with A <= B")
        ids.extend(range(lo, hi + 1))
    if not ids and not allow_empty:
        raise fail(f"no ids; {_SYNTAX}")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise fail(f"ids {repeated} given more than once")
    return ids


def int_ranges_type(allow_empty: bool = False) -> Callable[[str], list[int]]:
    """`parse_int_ranges` as an argparse `type`: argparse names the option in its one-line error."""

    def parse(text: str) -> list[int]:
        try:
            return parse_int_ranges(text, allow_empty=allow_empty)
        except SFError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def format_int_ranges(ids: Iterable[int]) -> str:
    """The shortest text `parse_int_ranges` reads back as `ids`: [0, 1, 2, 3, 7] -> '0-3,7'."""
    ids, parts, start = list(ids), [], 0
    for k in range(1, len(ids) + 1):
        if k == len(ids) or ids[k] != ids[k - 1] + 1:  # a run of consecutive ids ends at k - 1
            lo, hi = ids[start], ids[k - 1]
            parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
            start = k
    return ",".join(parts)
