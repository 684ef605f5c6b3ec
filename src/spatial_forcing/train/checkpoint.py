"""Checkpoints (resume points), written atomically as directories. (The exported policy is vla.export's.)

checkpoints/step_NNNNNN/  model.safetensors (student + SF branch), optimizer.pt, train_state.json
checkpoints/latest        text file naming the newest complete checkpoint
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from spatial_forcing.utils.atomic import write_bytes, write_dir, write_json
from spatial_forcing.utils.errors import SFError


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
    """Write checkpoints/step_<step> atomically, point `latest` at it, keep the newest `keep`."""
    ckpt_root = Path(run_dir) / "checkpoints"
    final = ckpt_root / f"step_{step:06d}"

    def fill(tmp: Path) -> None:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state()}, tmp / "optimizer.pt")
        (tmp / "train_state.json").write_text(json.dumps({"step": step}))

    write_dir(final, fill)
    write_bytes(ckpt_root / "latest", final.name.encode())
    for old in sorted(ckpt_root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    pointer = Path(run_dir) / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "train_state.json").exists() else None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> int:
    """Restore model, optimizer, scheduler and RNG state; returns the step to continue from."""
    try:
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        state = torch.load(path / "optimizer.pt", weights_only=True)
        step = json.loads((path / "train_state.json").read_text())["step"]
    except (OSError, RuntimeError, KeyError, json.JSONDecodeError) as err:
        raise SFError(f"cannot resume from {path}: {err}".splitlines()[0]) from None
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return int(step)


def write_config(run_dir: Path, config: dict) -> None:
    write_json(Path(run_dir) / "train_config.json", config)
