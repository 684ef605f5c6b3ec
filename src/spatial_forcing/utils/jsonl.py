"""Append-only JSON-lines logs (episode logs, metrics) that survive a kill at any moment.

A process killed mid-write (or a full disk) can leave the last line without its newline. Appending after
it would glue the next record onto the fragment, and both would then be lost to every reader. So every
append first repairs the tail: a complete last record only lacks its newline, which is added; a torn
fragment, which no reader could use anyway, is cut off.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

_BLOCK = 1 << 16


def _last_line_start(fh) -> int:
    """Offset just after the last b"\\n" of the file (0 if there is none); reads backwards in blocks."""
    end = fh.seek(0, os.SEEK_END)
    pos = end
    while pos > 0:
        step = min(_BLOCK, pos)
        fh.seek(pos - step)
        cut = fh.read(step).rfind(b"\n")
        if cut >= 0:
            return pos - step + cut + 1
        pos -= step
    return 0


def repair_tail(path: str | os.PathLike) -> None:
    """Make `path` end in a newline: complete its last record, or cut a torn one off."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        start = _last_line_start(fh)
        fh.seek(start)
        tail = fh.read()
        try:
            json.loads(tail)
        except ValueError:
            log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted write", path,
                        len(tail))
            fh.truncate(start)
        else:
            fh.write(b"\n")


def append_jsonl(path: str | os.PathLike, record: Any) -> None:
    """Append one record as one line, after repairing the tail. NaN/Inf are refused: they are not JSON."""
    line = json.dumps(record, allow_nan=False) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_tail(path)
    with open(path, "a") as fh:  # one write of one short line: a kill leaves it whole or torn
        fh.write(line)


def read_jsonl(path: str | os.PathLike) -> Iterator[Any]:
    """The records of `path` (none if it is missing); unreadable lines, such as a torn tail, are skipped."""
    path = Path(path)
    if not path.is_file():
        return
    with open(path, errors="replace") as fh:  # a torn multi-byte character must not stop the reading
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                log.warning("%s:%d: skipping an unreadable line", path, number)
