"""safetensors files of model weights (checkpoints, exported policies): one-line errors on read, and never a
non-finite tensor on write (a diverged run must not replace good weights with NaN ones)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from spatial_forcing.utils.errors import SFError, detail


def nonfinite_tensors(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or inf."""
    return [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, what: str) -> None:
    """Write `tensors` to `path` (made contiguous); SFError, nothing written, if any holds NaN or inf."""
    bad = nonfinite_tensors(tensors)
    if bad:
        raise SFError(f"refusing to write {what} {path}: {len(bad)} tensor(s) hold NaN or inf "
                      f"(first {bad[0]!r})")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def load_tensors(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """The tensors of `path`; SFError naming the file if it is missing, truncated, corrupt or non-finite."""
    path = Path(path)
    if not path.is_file():
        raise SFError(f"{path}: file not found ({what})")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise SFError(f"{path}: corrupt or truncated {what} ({detail(err)})") from None
    bad = nonfinite_tensors(tensors)
    if bad:
        raise SFError(f"{path}: {what} holds NaN or inf in {len(bad)} tensor(s) (first {bad[0]!r}): written "
                      f"by a diverged run")
    return tensors
