"""Checkpoints (resume points), written atomically as directories. (The exported policy is vla.export's.)

checkpoints/step_NNNNNN/  model.safetensors (student + SF branch), optimizer.pt, train_state.json
checkpoints/latest        text file naming the newest complete checkpoint

Resuming tries the checkpoint `latest` names, then the others from the newest: a corrupt newest checkpoint
(or a dangling or unreadable `latest`) falls back to the previous valid one with a warning instead of
silently restarting from scratch. Non-finite weights are never written (save_tensors refuses them).
"""

from __future__ import annotations

import json
import logging
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatial_forcing.utils.atomic import write_bytes, write_dir, write_json
from spatial_forcing.utils.errors import SFError, detail
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.utils.tensor_file import load_tensors, save_tensors

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LATEST = "latest"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "train_state.json"
CONFIG_FILE = "train_config.json"  # beside checkpoints/, in the run directory


def rng_state() -> dict[str, Any]:
    """All RNG states as tensors and plain values (loadable with torch.load(weights_only=True))."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(internal), py_gauss]}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, py_gauss = state["python"]
    random.setstate((version, tuple(internal), py_gauss))


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, keep: int = 2) -> Path:
    """Write checkpoints/step_<step> atomically, point `latest` at it, keep the newest `keep` up to `step`.

    Checkpoints past `step` are deleted too: they belong to a run resumed from an earlier checkpoint (after a
    fallback), so they are not its future."""
    ckpt_root = Path(run_dir) / CHECKPOINTS
    final = ckpt_root / f"step_{step:06d}"

    def fill(tmp: Path) -> None:
        save_tensors(model.state_dict(), tmp / MODEL_FILE, "checkpoint weights")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state()}, tmp / OPTIMIZER_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({"step": step}))

    write_dir(final, fill)
    write_bytes(ckpt_root / LATEST, final.name.encode())
    older = [p for s, p in _step_dirs(ckpt_root) if s < step]
    for old in [p for s, p in _step_dirs(ckpt_root) if s > step] + older[keep - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _step_dirs(ckpt_root: Path) -> list[tuple[int, Path]]:
    """(step, directory) of every checkpoints/step_N directory, newest first."""
    out = []
    for path in ckpt_root.glob("step_*"):
        number = path.name.removeprefix("step_")
        if path.is_dir() and number.isdigit():
            out.append((int(number), path))
    return sorted(out, reverse=True)


def resume_candidates(run_dir: Path, warn: bool = True) -> list[Path]:
    """Checkpoint directories to try, best first: the one `latest` names, then the others, newest first."""
    ckpt_root = Path(run_dir) / CHECKPOINTS
    dirs = [p for _, p in _step_dirs(ckpt_root)]
    pointer = ckpt_root / LATEST
    named = None
    if pointer.exists():
        try:
            named = ckpt_root / pointer.read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            if warn:
                log.warning("cannot read %s (%s); trying the newest checkpoints", pointer, err)
        if named is not None and named not in dirs:
            if warn:
                log.warning("%s names %r, which is not a checkpoint directory; trying the newest checkpoints",
                            pointer, named.name)
            named = None
    return ([named] if named is not None else []) + [p for p in dirs if p != named]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a resume would start from (unless it is corrupt), or None: for status displays."""
    return next((p for p in resume_candidates(run_dir, warn=False) if (p / STATE_FILE).is_file()), None)


def restore_latest(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   scheduler: Any) -> tuple[Path, int] | None:
    """Load the best valid checkpoint of `run_dir` (see `resume_candidates`); (path, step), or None if the
    run has no checkpoint. SFError if it has some but none can be loaded."""
    candidates = resume_candidates(run_dir)
    pointer = Path(run_dir) / CHECKPOINTS / LATEST
    if not candidates and pointer.exists():
        raise SFError(f"cannot resume {run_dir}: {pointer} exists but no checkpoint directory does; start "
                      f"over with --overwrite")
    reasons = []
    for path in candidates:
        try:
            return path, load_checkpoint(path, model, optimizer, scheduler)
        except SFError as err:
            log.warning("skipping checkpoint %s: %s", path, err)
            reasons.append(str(err))
    if reasons:
        raise SFError(f"cannot resume {run_dir}: none of its {len(reasons)} checkpoint(s) loads "
                      f"({reasons[0]}); start over with --overwrite")
    return None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> int:
    """Restore model, optimizer, scheduler and RNG state; returns the step to continue from. Every file is
    read and checked before anything is restored."""
    weights = load_tensors(path / MODEL_FILE, "checkpoint weights")
    state_json = read_json(path / STATE_FILE)
    try:
        state = torch.load(path / OPTIMIZER_FILE, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as err:
        # torch's own message is a paragraph about weights_only: the file and what it is say more
        raise SFError(f"{path / OPTIMIZER_FILE}: corrupt or truncated optimizer state "
                      f"({type(err).__name__})") from None
    try:
        step = int(state_json["step"])
        optimizer_state, scheduler_state, rng = state["optimizer"], state["scheduler"], state["rng"]
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as err:
        raise SFError(f"cannot resume from {path}: {detail(err)}") from None
    try:
        model.load_state_dict(weights)
        optimizer.load_state_dict(optimizer_state)
    except (RuntimeError, ValueError, KeyError) as err:
        raise SFError(f"{path} does not fit this run's model: {detail(err)}") from None
    scheduler.load_state_dict(scheduler_state)
    set_rng_state(rng)
    return step


def write_config(run_dir: Path, config: dict) -> None:
    write_json(Path(run_dir) / CONFIG_FILE, config)
