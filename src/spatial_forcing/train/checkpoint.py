"""Checkpoints (resume points) and the exported policy, written atomically as directories.

checkpoints/step_NNNNNN/  model.safetensors (student + SF branch), optimizer.pt, train_state.json
checkpoints/latest        text file naming the newest complete checkpoint
policy/                   the exported student alone: model.safetensors, vla.json, tokenizer.json, normalizer.json
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from spatial_forcing.utils.atomic import write_bytes, write_json
from spatial_forcing.utils.errors import SFError


def _write_dir_atomically(final: Path, fill) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        fill(tmp)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


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

    _write_dir_atomically(final, fill)
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


def export_policy(out_dir: Path, policy: torch.nn.Module, vla_config: dict, tokenizer_json: str,
                  normalizer: dict, extra: dict | None = None) -> Path:
    """Write the student alone (no projector, no teacher): what inference and evaluation load."""

    def fill(tmp: Path) -> None:
        save_file({k: v.contiguous() for k, v in policy.state_dict().items()}, str(tmp / "model.safetensors"))
        (tmp / "vla.json").write_text(json.dumps(vla_config, indent=2))
        (tmp / "tokenizer.json").write_text(tokenizer_json)
        (tmp / "normalizer.json").write_text(json.dumps(normalizer))
        (tmp / "info.json").write_text(json.dumps(extra or {}, indent=2))

    _write_dir_atomically(Path(out_dir), fill)
    return Path(out_dir)


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SFError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise SFError(f"{path}: invalid JSON ({err})") from None


def write_config(run_dir: Path, config: dict) -> None:
    write_json(Path(run_dir) / "train_config.json", config)
