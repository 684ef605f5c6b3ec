"""metrics.jsonl: one JSON object per logged step ({"step": N, "loss": ..., ...}), appended as training goes.

On a (re)start the file is cut back to the resume step: lines past it belong to the lost tail of a killed
run, and a line torn by the kill (no newline, not valid JSON) is dropped instead of crashing the resume or
having the next record glued to it.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from spatial_forcing.utils.atomic import write_bytes
from spatial_forcing.utils.jsonl import read_jsonl


def log_scalars(writer: SummaryWriter, path: Path, step: int, scalars: dict) -> None:
    """Write `scalars` of `step` to TensorBoard and as one line of metrics.jsonl."""
    for key, value in scalars.items():
        writer.add_scalar(key, value, step)
    with open(path, "a") as fh:
        fh.write(json.dumps({"step": step, **scalars}) + "\n")


def truncate_metrics(path: Path, step: int) -> None:
    """Keep the well-formed lines of steps <= `step` (atomically rewritten); drop the rest."""
    if not path.exists():
        return
    kept = [row for row in read_jsonl(path)  # skips (and logs) lines torn by a kill
            if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step]
    write_bytes(path, "".join(json.dumps(row) + "\n" for row in kept).encode())
