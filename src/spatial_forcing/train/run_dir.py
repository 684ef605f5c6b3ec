"""The run directory (`--out`): checked before anything is loaded, written only after the run's checks.

- `check_start`: `--out` must be usable as a directory; a non-empty one needs `--resume` (continue its run) or
  `--overwrite` (start over); `--resume` refuses a config that differs in anything but RESUME_SAFE fields, or
  another number of micro-batches per step (processes x --grad-accum).
- `open_run`: once the run has passed its checks (data, model, teacher, preflight): clear the previous run's
  outputs (--overwrite), remove partial writes of a killed run, write train_config.json (the TrainConfig
  fields plus `world_size`, the number of processes).

Every rank runs the checks (they only read); rank 0 alone opens and writes the run directory.
- `cleaned_on_error`: a run that fails before its first checkpoint in a directory it found empty leaves
  nothing behind (so the corrected command can be rerun as is).
"""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from spatial_forcing.train.checkpoint import (CHECKPOINTS, CONFIG_FILE, LATEST, resume_candidates,
                                              write_config)
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.json_file import read_json

log = logging.getLogger(__name__)

METRICS = "metrics.jsonl"
POLICY = "policy"
# What a training run writes besides policy/ (which only a successful export replaces).
OUTPUTS = (CHECKPOINTS, METRICS, "tensorboard", "evals", CONFIG_FILE)

# TrainConfig fields a resumed run may change: where the run lives, how it is computed and what is logged,
# measured or saved, never the data, model, objective or optimisation. (An in-training evaluation re-seeds
# the global RNG, so changing eval_every changes later noise draws of a flow head; the run stays a run of
# its config.) Every other field must equal the one in train_config.json. grad_accum may change together
# with the number of processes as long as their product (the micro-batches of a step) does not: each
# micro-batch then holds the same samples and draws the same noise (`train.distributed`), and only the order
# in which their gradients are summed changes (all-reduce instead of accumulation: float rounding).
RESUME_SAFE = frozenset({"out", "overwrite", "threads", "log_every", "save_every", "val_dataset", "val_every",
                         "val_samples", "eval_every", "eval_env", "eval_tasks", "eval_init_states",
                         "eval_seed", "grad_accum"})
WORLD_SIZE = "world_size"  # the key of train_config.json beside the TrainConfig fields


def check_out(path: Path) -> None:
    """SFError unless `path` is, or can be created as, a writable directory."""
    if path.exists() and not path.is_dir():
        raise SFError(f"--out {path} is a file, expected a run directory")
    existing = next(p for p in [path.absolute(), *path.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise SFError(f"--out {path}: {existing} is a file, expected a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SFError(f"--out {path}: {existing} is not writable")


def check_start(cfg: TrainConfig, resume: bool, world_size: int = 1) -> str:
    """Refuse a run that would mix with or destroy another one; returns what `--out` was: "absent", "empty"
    or "used". `world_size`: the number of processes of this run."""
    run_dir = Path(cfg.out)
    check_out(run_dir)
    if resume and cfg.overwrite:
        raise SFError("--resume continues the run in --out, --overwrite starts it over: give one of them")
    if not run_dir.is_dir():
        return "absent"
    entries = sorted(p.name for p in run_dir.iterdir())
    if not entries:
        return "empty"
    if resume:
        if resume_candidates(run_dir, warn=False) or (run_dir / CHECKPOINTS / LATEST).exists():
            check_resume_config(run_dir, cfg, world_size)
    elif not cfg.overwrite:
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise SFError(f"--out {run_dir} is not empty ({shown}): pass --resume to continue its run or "
                      f"--overwrite to start over")
    return "used"


def check_resume_config(run_dir: Path, cfg: TrainConfig, world_size: int = 1) -> None:
    """SFError listing the fields (outside RESUME_SAFE) in which `cfg` differs from the run's saved config,
    or naming the micro-batches per step (processes x grad_accum) when they differ."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        log.warning("%s has checkpoints but no %s: cannot check that the config is unchanged", run_dir,
                    CONFIG_FILE)
        return
    saved = read_json(path)
    saved_world = saved.pop(WORLD_SIZE, 1) if isinstance(saved, dict) else 1  # absent: before multi-process
    try:
        saved = TrainConfig.from_dict(saved).to_dict()  # fields added since get their defaults
    except (SFError, TypeError, ValueError) as err:
        raise SFError(f"{path}: {err}") from None
    current = cfg.to_dict()
    for values in (saved, current):
        values["dataset"] = str(Path(values["dataset"]).resolve())  # the same data by another relative path
    changed = _differences(saved, current)
    safe = [c for c in changed if c.split(":")[0].split(".")[0] in RESUME_SAFE]
    unsafe = [c for c in changed if c not in safe]
    if unsafe:
        raise SFError(f"--resume: {run_dir} was trained with another config ({'; '.join(unsafe)}); resume it "
                      f"with the same values, or start over with --overwrite")
    before, now = (saved_world, saved["grad_accum"]), (world_size, cfg.grad_accum)
    if before[0] * before[1] != now[0] * now[1]:
        parts = before[0] * before[1]
        fix = f"--grad-accum {parts // now[0]}" if parts % now[0] == 0 else f"{before[0]} process(es)"
        raise SFError(f"--resume: {run_dir} was trained with {before[0]} process(es) x --grad-accum "
                      f"{before[1]} micro-batches per step, this run has {now[0]} x {now[1]}: resume with "
                      f"{fix} (the same micro-batches), or start over with --overwrite")
    if before != now:
        log.info("resuming with %d process(es) x --grad-accum %d instead of %d x %d: the same micro-batches, "
                 "summed in another order", *now, *before)
    if safe:
        log.info("resuming with changed %s", "; ".join(safe))


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """'field: OLD -> NEW' for every differing leaf (nested dicts such as align and vla recursed)."""
    out = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {_short(a)} -> {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def open_run(run_dir: Path, cfg: TrainConfig, world_size: int = 1) -> None:
    """Make `run_dir` ready for writing (called once the run passed its checks, by rank 0 alone)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.overwrite:
        removed = [name for name in OUTPUTS if (run_dir / name).exists()]
        _remove(run_dir, OUTPUTS)
        if removed:
            log.info("--overwrite: removed %s of the previous run in %s", ", ".join(removed), run_dir)
    # Temporary siblings of atomic writes interrupted by a kill (utils.atomic names them ".<name>.*").
    for tmp in [*run_dir.glob(f".{POLICY}.*"), *run_dir.glob(".*.tmp"), *(run_dir / CHECKPOINTS).glob(".*")]:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        else:
            tmp.unlink()
    write_config(run_dir, {**cfg.to_dict(), WORLD_SIZE: world_size})


@contextmanager
def cleaned_on_error(run_dir: Path, found: str) -> Iterator[None]:
    """On an SFError (e.g. divergence) before any checkpoint, remove what the run wrote into a directory it
    `found` (check_start) absent or empty: without a checkpoint there is nothing to resume, and the rerun
    would be refused as not empty."""
    try:
        yield
    except SFError:
        if found != "used" and run_dir.is_dir() and not resume_candidates(run_dir, warn=False):
            _remove(run_dir, OUTPUTS)
            if found == "absent" and not any(run_dir.iterdir()):
                run_dir.rmdir()
        raise


def _remove(run_dir: Path, names: tuple[str, ...]) -> None:
    for name in names:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
